"""Route 2: the OpenAI Video protocol (seed 002): adapter, simulator, prices and tests side by side."""
