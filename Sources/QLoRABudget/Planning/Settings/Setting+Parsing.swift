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
  /// Reads `text` as a value of this setting (choices are case-insensitive).
  public func parse(_ text: String) throws(SettingValueError) -> SettingChange {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    func fail(_ expected: String? = nil) -> SettingValueError {
      SettingValueError(setting: self, value: text, expected: expected ?? "expected " + domain.description)
    }
    switch domain {
    case .boolean:
      switch trimmed.lowercased() {
      case "true", "yes", "on", "1": return booleanChange(true)
      case "false", "no", "off", "0": return booleanChange(false)
      default: throw fail()
      }
    case .integers(let range):
      guard let value = Int64(trimmed) else { throw fail("expected a whole number") }
      guard range.contains(value), let change = change(to: value) else {
        throw fail("must be between \(range.lowerBound) and \(range.upperBound)")
      }
      return change
    case .numbers(let range):
      guard let value = Double(trimmed), value.isFinite else { throw fail("expected a number") }
      guard range.contains(value) else { throw fail("must be between \(range.lowerBound) and \(range.upperBound)") }
      return self == .alpha ? .alpha(value) : .loraDropout(value)
    case .moduleNames:
      switch trimmed.lowercased() {
      case "all-linear": return .targets(.allLinear)
      case "peft-default": return .targets(.peftDefault)
      default:
        let names = trimmed.split(separator: ",", omittingEmptySubsequences: false)
          .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.contains(where: \.isEmpty) else { throw fail("module names joined by commas, e.g. 'q_proj,v_proj'") }
        return .targets(.modules(names))
      }
    case .elements(let allowsAuto):
      if allowsAuto, trimmed.lowercased() == "auto" { return bucketChange(nil) }
      // DeepSpeed configs write sizes as 5e7 as often as 50000000.
      guard let value = Double(trimmed), value.isFinite, value == value.rounded() else {
        throw fail("expected a whole number of elements" + (allowsAuto ? " or auto" : ""))
      }
      guard value >= 0, value <= Double(Setting.maximumBucketElements) else {
        throw fail("must be between 0 and \(Setting.maximumBucketElements) elements")
      }
      return bucketChange(Int64(value))
    case .offloads:
      var offload: EngineOffload = []
      for part in trimmed.lowercased().split(separator: ",", omittingEmptySubsequences: false) {
        switch part.trimmingCharacters(in: .whitespaces) {
        case "none": continue
        case "optimizer": offload.insert(.optimizer)
        case "params", "parameters": offload.insert(.parameters)
        default: throw fail()
        }
      }
      return .offload(offload)
    case .allocatorConfiguration:
      // How a setup's own value reads back (SettingChange.valueText): PyTorch's defaults.
      if trimmed.lowercased() == SettingChange.defaultAllocatorText { return .allocator(.pytorchDefault) }
      do {
        return .allocator(try AllocatorSettings(configuration: trimmed))
      } catch {
        throw fail(error.description)
      }
    case .choices(let names):
      let key = trimmed.lowercased()
      guard let change = choiceChange(key) else {
        let hint = Suggestions.closest(to: key, among: names, limit: 1).first.map { " Did you mean '\($0)'?" } ?? ""
        throw fail("use one of \(names.joined(separator: ", ")).\(hint)")
      }
      return change
    }
  }

  /// The change a boolean setting makes (called only for the settings whose domain is `.boolean`).
  private func booleanChange(_ value: Bool) -> SettingChange {
    switch self {
    case .doubleQuantization: return .doubleQuantization(value)
    case .dora: return .dora(value)
    case .gradientCheckpointing: return .gradientCheckpointing(value)
    case .autocast: return .autocast(value)
    default: return .fullFineTune(value)  // the fifth setting whose domain is `.boolean`
    }
  }

  private func bucketChange(_ value: Int64?) -> SettingChange {
    switch self {
    case .prefetchBucketSize: return .prefetchBucketSize(value)
    case .maxLiveParameters: return .maxLiveParameters(value ?? DeepSpeedBuckets().maxLiveParameters)
    case .persistenceThreshold: return .persistenceThreshold(value)
    default: return .reduceBucketSize(value)
    }
  }

  private func choiceChange(_ key: String) -> SettingChange? {
    switch self {
    case .quantization: return BaseQuantization(rawValue: key).map { .quantization($0) }
    case .optimizer: return Optimizer(rawValue: key).map { .optimizer($0) }
    case .computeDtype: return ComputeDtype(rawValue: key).map { .computeDtype($0) }
    case .recipe: return Recipe.named(key).map { .recipe($0) }
    case .attention: return AttentionImplementation(rawValue: key).map { .attention($0) }
    case .loss: return LossKind(rawValue: key).map { .loss($0) }
    case .fullFineTunePrecision: return FullFineTunePrecision(rawValue: key).map { .fullFineTunePrecision($0) }
    case .engine: return ParallelEngine(rawValue: key).map { .engine($0) }
    case .loop: return TrainingLoop(rawValue: key).map { .loop($0) }
    case .platform: return KernelPlatform(rawValue: key).map { .platform($0) }
    default: return nil
    }
  }

  /// A number as the shortest text that reads back the same (`16`, `0.05`).
  static func numberText(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
  }
}
