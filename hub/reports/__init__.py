"""Reports over what the hub sent and what happened next: customer-centricity and outcomes."""
