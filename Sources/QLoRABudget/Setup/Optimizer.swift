/// The optimizer that updates the trainable parameters.
///
/// | name | state per trainable element | where |
/// | --- | --- | --- |
/// | `adamw` | two fp32 moments: 8 bytes | GPU |
/// | `adamw-8bit` | two uint8 moments + two fp32 absmax per 256 (tensors under 4,096 elements keep 8 bytes) | GPU |
/// | `paged-adamw` | as `adamw`; tensors of at least 100,000 elements in paged (host-backed) memory | GPU + host |
/// | `paged-adamw-8bit` | as `adamw-8bit`; the uint8 moments of tensors of at least 100,000 elements paged | GPU + host |
/// | `sgd` | none | |
/// | `sgd-momentum` | one fp32 momentum buffer: 4 bytes | GPU |
///
/// Source: bitsandbytes `optim/optimizer.py` (`Optimizer2State.init_state`, `min_8bit_size=4096`,
/// `get_state_buffer` pages only when `p.numel() >= 1e5`, `F.get_paged` uses cudaMallocManaged).
public enum Optimizer: String, CaseIterable, Hashable, Sendable, Codable {
  case adamw
  case adamw8bit = "adamw-8bit"
  case pagedAdamw = "paged-adamw"
  case pagedAdamw8bit = "paged-adamw-8bit"
  case sgd
  case sgdMomentum = "sgd-momentum"

  /// Moment tensors per parameter (Adam: 2, SGD with momentum: 1).
  public var stateCount: Int64 {
    switch self {
    case .adamw, .adamw8bit, .pagedAdamw, .pagedAdamw8bit: return 2
    case .sgdMomentum: return 1
    case .sgd: return 0
    }
  }

  public var isEightBit: Bool { self == .adamw8bit || self == .pagedAdamw8bit }
  public var isPaged: Bool { self == .pagedAdamw || self == .pagedAdamw8bit }
  /// bitsandbytes' optimizers (8-bit or paged), whose 32-bit state is fp32 whatever the
  /// parameter's dtype; the others are torch's, whose state follows the parameter.
  public var isBitsandbytes: Bool { isEightBit || isPaged }
}
