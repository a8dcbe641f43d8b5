"""Demo data and a stand-in packet core, for newcomers and the benchmark."""
