"""Live Q&A: participants ask and upvote, the brand moderates, a presenter view."""
