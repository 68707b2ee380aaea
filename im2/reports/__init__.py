"""Campaign effect reports (目标、执行、数据、结论) as HTML and PDF."""
