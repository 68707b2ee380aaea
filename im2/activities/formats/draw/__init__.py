"""Lucky draw (抽奖): prizes with stock, instant win or a scheduled, verifiable draw."""
