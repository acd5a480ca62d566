"""Route 6: Veo on Google Cloud (Vertex AI, now Gemini Enterprise Agent Platform), with OAuth tokens."""
