"""Social listening: mentions from other platforms, their sentiment, topics, spikes and alerts."""
