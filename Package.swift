// swift-tools-version:6.0
import PackageDescription

// qlora-budget: how much GPU and host memory a QLoRA fine-tune takes, byte by byte.
// Foundation only: this manifest never declares a package dependency.
let package = Package(
  name: "qlora-budget",
  products: [
    .library(name: "QLoRABudget", targets: ["QLoRABudget"]),
    .library(name: "NF4Quantization", targets: ["NF4Quantization"]),
    .library(name: "Safetensors", targets: ["Safetensors"]),
    .executable(name: "qlora-budget", targets: ["qlora-budget"]),
  ],
  targets: [
    // Libraries
    /// The estimator: architectures, training setups, presets, the memory breakdown, solvers.
    .target(name: "QLoRABudget", dependencies: ["Safetensors"]),
    /// The 4-bit engine, bit-compatible with bitsandbytes. Knows nothing of the estimator.
    .target(name: "NF4Quantization", dependencies: ["Safetensors"]),
    /// The safetensors container format: a bounded, allocation-safe reader and a writer.
    .target(name: "Safetensors"),

    // Executables
    .executableTarget(name: "qlora-budget", dependencies: ["QLoRABudget", "NF4Quantization", "Safetensors"]),
    .executableTarget(name: "qlora-budget-bench", dependencies: ["QLoRABudget", "NF4Quantization"]),
    /// Regenerates Sources/QLoRABudget/Presets/EmbeddedPresets.swift from Presets/.
    .executableTarget(name: "embed-presets"),

    // Tests
    .testTarget(name: "QLoRABudgetTests", dependencies: ["QLoRABudget", "NF4Quantization"], exclude: ["Fixtures"]),
    .testTarget(name: "NF4QuantizationTests", dependencies: ["NF4Quantization", "Safetensors"], exclude: ["Fixtures"]),
    .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors"]),
    /// Where both libraries are visible: the engine's buffers against the estimator's formula.
    .testTarget(name: "CrossCheckTests", dependencies: ["QLoRABudget", "NF4Quantization"]),
    /// Runs the built binary and the command layer in-process.
    .testTarget(name: "CLITests", dependencies: ["qlora-budget", "QLoRABudget", "NF4Quantization", "Safetensors"]),
  ]
)
