"""Emulated Asana, Salesforce and Sheets servers on 127.0.0.1 for the demo, tests and benchmarks."""
