print("qlora-budget")
