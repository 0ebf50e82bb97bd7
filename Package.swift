// swift-tools-version:6.0
import PackageDescription

// qlora-budget: how much GPU and host memory a QLoRA fine-tune takes, byte by byte.
// Foundation only: this manifest never declares a package dependency.
// The targets and what each may import: docs/architecture.md.
let package = Package(
  name: "qlora-budget",
  products: [
    .library(name: "QLoRABudget", targets: ["QLoRABudget"]),
    .library(name: "QLoRABudgetInputs", targets: ["QLoRABudgetInputs"]),
    .library(name: "NF4Quantization", targets: ["NF4Quantization"]),
    .library(name: "Safetensors", targets: ["Safetensors"]),
    .library(name: "FileSafety", targets: ["FileSafety"]),
    .executable(name: "qlora-budget", targets: ["qlora-budget"]),
    .executable(name: "qlora-budget-download", targets: ["qlora-budget-download"]),
  ],
  targets: [
    // Libraries
    /// The estimator an embedding tool depends on: units, architectures, hardware, training
    /// setups and their settings, the memory breakdown, the verdict, the planner. Foundation only:
    /// no networking, no files, no YAML, no processes.
    .target(name: "QLoRABudget"),
    /// What the tool reads: config.json and training configs (YAML, JSON, DeepSpeed), the presets
    /// catalog, the HF cache, checkpoint inventories, nvidia-smi, pasted OOM messages.
    .target(name: "QLoRABudgetInputs", dependencies: ["QLoRABudget", "Safetensors", "FileSafety"]),
    /// The Hub download (FoundationNetworking), linked only into qlora-budget-download so that a
    /// run that does not download loads no libcurl.
    .target(name: "HubDownload", dependencies: ["QLoRABudget", "QLoRABudgetInputs"]),
    /// The validation tool (internal, no product): calibration rows, the published mapping,
    /// docs/validation.md and the generated margin sources, for `validate` and the tests.
    .target(name: "QLoRABudgetValidation", dependencies: ["QLoRABudget", "QLoRABudgetInputs", "FileSafety"]),
    /// The 4-bit engine, bit-compatible with bitsandbytes. Knows nothing of the estimator.
    .target(name: "NF4Quantization", dependencies: ["Safetensors", "FileSafety"]),
    /// The safetensors container format: a bounded, allocation-safe reader and a writer.
    .target(name: "Safetensors", dependencies: ["FileSafety"]),
    /// Bounded reads, atomic writes, staging folders and file identity.
    .target(name: "FileSafety"),

    // Executables
    .executableTarget(
      name: "qlora-budget",
      dependencies: [
        "QLoRABudget", "QLoRABudgetInputs", "QLoRABudgetValidation", "NF4Quantization", "Safetensors", "FileSafety",
      ]),
    /// Fetches one config.json for `--download`; qlora-budget runs it from its own folder.
    .executableTarget(name: "qlora-budget-download", dependencies: ["HubDownload"]),
    .executableTarget(
      name: "qlora-budget-bench", dependencies: ["QLoRABudget", "QLoRABudgetInputs", "NF4Quantization"]),
    /// Regenerates Sources/QLoRABudgetInputs/Presets/EmbeddedPresets.swift from Presets/.
    .executableTarget(name: "embed-presets"),

    // Tests
    .testTarget(
      name: "QLoRABudgetTests",
      dependencies: [
        "QLoRABudget", "QLoRABudgetInputs", "QLoRABudgetValidation", "HubDownload", "NF4Quantization", "Safetensors",
        "FileSafety",
      ],
      exclude: ["Fixtures"]),
    .testTarget(
      name: "NF4QuantizationTests", dependencies: ["NF4Quantization", "Safetensors", "FileSafety"],
      exclude: ["Fixtures"]),
    .testTarget(name: "SafetensorsTests", dependencies: ["Safetensors", "FileSafety"]),
    /// Where both libraries are visible: the engine's buffers against the estimator's formula.
    .testTarget(
      name: "CrossCheckTests", dependencies: ["QLoRABudget", "QLoRABudgetInputs", "NF4Quantization", "Safetensors"]),
    /// Runs the built binaries and the command layer in-process.
    .testTarget(
      name: "CLITests",
      dependencies: [
        "qlora-budget", "qlora-budget-download", "QLoRABudget", "QLoRABudgetInputs", "NF4Quantization", "Safetensors",
        "FileSafety",
      ]),
  ]
)
