"""Route 1: the tasks API (seeds 000/001): adapter, simulator, prices and tests side by side."""
