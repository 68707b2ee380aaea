"""Survey: single, multiple, free text, rating, NPS and ranking questions, with skip logic."""
