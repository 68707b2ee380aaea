"""Presenter mode: the big screen of a poll, quiz, Q&A, UGC contest or lucky draw (one frame,
a stage per format), and the short numeric join codes that `/j/<code>` opens."""
