"""Message delivery: SMS through Alibaba Cloud or Tencent Cloud, sent by a job with retries,
with a delivery log (docs/messaging.md)."""
