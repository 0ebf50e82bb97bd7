print("qlora-budget-bench: no benchmarks yet")
