"""Route 3: the generateTask aggregator (seed 003): adapter, simulator, prices and tests side by side."""
