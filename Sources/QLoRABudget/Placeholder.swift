public enum QLoRABudgetPlaceholder {}
