"""The closeness ladder (亲密度阶梯): bystander → participant → spreader → advocate, per workspace
and per campaign. The rules and the stored results live here; the computation over the event
log is analytics' (`im2.analytics.ladder`), which writes through this package's service."""
