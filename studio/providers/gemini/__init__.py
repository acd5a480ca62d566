"""Route 5: Google's Gemini API: adapter, simulator, prices and tests side by side."""
