import Foundation

/// A value written as text that a setting does not allow.
public struct SettingValueError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The setting the value was for; nil for a setup variant name.
  public let setting: Setting?
  public let value: String
  /// What the setting allows, in words (with the closest spelling when there is one).
  public let expected: String

  public var description: String { "\(setting?.label ?? "setup variant") '\(value)' is invalid: \(expected)" }
}

extension Setting {
  /// Reads `text` as a value of this setting (choices are case-insensitive). One switch over
  /// every setting, without a `default:` arm, so a new setting cannot be read as another one.
  public func parse(_ text: String) throws(SettingValueError) -> SettingChange {
    let trimmed = text.trimmingHorizontalWhitespace()
    switch self {
    case .quantization: return .quantization(try choice(text) { BaseQuantization(rawValue: $0) })
    case .doubleQuantization: return .doubleQuantization(try boolean(text))
    case .blockSize:
      return .blockSize(try choice(text) { Int64($0).flatMap { TrainingSetup.blockSizes.contains($0) ? $0 : nil } })
    case .rank: return .rank(try integer(text))
    case .alpha: return .alpha(try number(text))
    case .targets:
      switch trimmed.lowercased() {
      case "all-linear": return .targets(.allLinear)
      case "peft-default": return .targets(.peftDefault)
      default:
        let names = trimmed.split(separator: ",", omittingEmptySubsequences: false)
          .map { $0.trimmingHorizontalWhitespace() }
        guard !names.contains(where: \.isEmpty) else {
          throw failure(text, "module names joined by commas, e.g. 'q_proj,v_proj'")
        }
        return .targets(.modules(names))
      }
    case .dora: return .dora(try boolean(text))
    case .loraDropout: return .loraDropout(try number(text))
    case .modulesToSave:
      if trimmed.lowercased() == "none" { return .modulesToSave([]) }
      let names = trimmed.split(separator: ",", omittingEmptySubsequences: false).map {
        $0.trimmingHorizontalWhitespace()
      }
      guard !names.contains(where: \.isEmpty) else {
        throw failure(text, "none, or module names joined by commas, e.g. 'embed_tokens,lm_head'")
      }
      return .modulesToSave(names)
    case .optimizer: return .optimizer(try choice(text) { Optimizer(rawValue: $0) })
    case .computeDtype: return .computeDtype(try choice(text) { ComputeDtype(rawValue: $0) })
    case .recipe: return .recipe(try choice(text) { Recipe.named($0) })
    case .sequenceLength: return .sequenceLength(try integer(text))
    case .batchSize: return .batchSize(try integer(text))
    case .gradientCheckpointing: return .gradientCheckpointing(try boolean(text))
    case .attention:
      return .attention(
        try choice(text) { AttentionImplementation(rawValue: $0) ?? AttentionImplementation(transformersName: $0) })
    case .loss: return .loss(try choice(text) { LossKind(rawValue: $0) })
    case .autocast: return .autocast(try boolean(text))
    case .gpuCount: return .gpuCount(try integer(text))
    case .fullFineTune: return .fullFineTune(try boolean(text))
    case .fullFineTunePrecision: return .fullFineTunePrecision(try choice(text) { FullFineTunePrecision(rawValue: $0) })
    case .engine: return .engine(try choice(text) { ParallelEngine(rawValue: $0) })
    case .nodeCount: return .nodeCount(try integer(text))
    case .offload:
      var offload: EngineOffload = []
      for part in trimmed.lowercased().split(separator: ",", omittingEmptySubsequences: false) {
        switch part.trimmingHorizontalWhitespace() {
        case "none": continue
        case "optimizer": offload.insert(.optimizer)
        case "params", "parameters": offload.insert(.parameters)
        default: throw failure(text)
        }
      }
      return .offload(offload)
    case .reduceBucketSize: return .reduceBucketSize(try elements(text))
    case .prefetchBucketSize: return .prefetchBucketSize(try elements(text))
    case .maxLiveParameters: return .maxLiveParameters(try elements(text) ?? DeepSpeedBuckets().maxLiveParameters)
    case .persistenceThreshold: return .persistenceThreshold(try elements(text))
    case .loop: return .loop(try choice(text) { TrainingLoop(rawValue: $0) })
    case .platform: return .platform(try choice(text) { KernelPlatform(rawValue: $0) })
    case .allocator:
      // How a setup's own value reads back (SettingChange.valueText): PyTorch's defaults.
      if trimmed.lowercased() == SettingChange.defaultAllocatorText { return .allocator(.pytorchDefault) }
      do {
        return .allocator(try AllocatorSettings(configuration: trimmed))
      } catch {
        throw failure(text, error.description)
      }
    }
  }

  private func failure(_ text: String, _ expected: String? = nil) -> SettingValueError {
    SettingValueError(setting: self, value: text, expected: expected ?? "expected " + domain.description)
  }

  /// `true`/`false` (also yes/no, on/off, 1/0).
  private func boolean(_ text: String) throws(SettingValueError) -> Bool {
    switch text.trimmingHorizontalWhitespace().lowercased() {
    case "true", "yes", "on", "1": return true
    case "false", "no", "off", "0": return false
    default: throw failure(text)
    }
  }

  /// A whole number in the setting's range.
  private func integer(_ text: String) throws(SettingValueError) -> Int64 {
    guard case .integers(let range) = domain else { throw failure(text) }
    guard let value = Int64(text.trimmingHorizontalWhitespace()) else {
      throw failure(text, "expected a whole number")
    }
    guard range.contains(value) else {
      throw failure(text, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return value
  }

  /// A finite number in the setting's range.
  private func number(_ text: String) throws(SettingValueError) -> Double {
    guard case .numbers(let range) = domain else { throw failure(text) }
    guard let value = Self.decimal(text.trimmingHorizontalWhitespace()), value.isFinite else {
      throw failure(text, "expected a number")
    }
    guard range.contains(value) else {
      throw failure(text, "must be between \(range.lowerBound) and \(range.upperBound)")
    }
    return value
  }

  /// A DeepSpeed element count; nil for `auto` where the setting allows it.
  private func elements(_ text: String) throws(SettingValueError) -> Int64? {
    guard case .elements(let allowsAuto) = domain else { throw failure(text) }
    let trimmed = text.trimmingHorizontalWhitespace()
    if allowsAuto, trimmed.lowercased() == "auto" { return nil }
    // DeepSpeed configs write sizes as 5e7 as often as 50000000.
    guard let value = Self.decimal(trimmed), value.isFinite, value == value.rounded() else {
      throw failure(text, "expected a whole number of elements" + (allowsAuto ? " or auto" : ""))
    }
    guard value >= 0, value <= Double(Setting.maximumBucketElements) else {
      throw failure(text, "must be between 0 and \(Setting.maximumBucketElements) elements")
    }
    return Int64(value)
  }

  /// One of the setting's listed choices (case-insensitive), read by `make`.
  private func choice<T>(_ text: String, _ make: (String) -> T?) throws(SettingValueError) -> T {
    let key = text.trimmingHorizontalWhitespace().lowercased()
    if let value = make(key) { return value }
    let names = domain.listedValues
    let hint = Suggestions.closest(to: key, among: names, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
    throw failure(text, "use one of \(names.joined(separator: ", ")).\(hint)")
  }

  /// A decimal number (`16`, `0.05`, `5e7`), or nil: `Double.init` also reads hexadecimal
  /// (`0x10`), `nan` and `inf`, which no training config means here.
  private static func decimal(_ text: String) -> Double? {
    guard text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "+-.eE".utf8.contains($0) })
    else { return nil }
    return Double(text)
  }

  /// A number as the shortest text that reads back the same (`16`, `0.05`).
  static func numberText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}
