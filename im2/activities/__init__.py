"""The interactive formats (poll, quiz, survey, Q&A, UGC, lucky draw, check-in, group-buy):
one module per format under `formats/`, behind one registry."""
