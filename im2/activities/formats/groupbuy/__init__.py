"""Group-buy (拼团): teams of N within T hours, joined through a link, never over N."""
