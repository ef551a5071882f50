"""exchange-lab: a simulated Exchange fleet behind a real WinRM endpoint."""
