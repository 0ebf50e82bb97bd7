import FileSafety
import Foundation
import QLoRABudget
import Safetensors

/// Turns a model argument into an architecture, looking where a user's model is:
///
/// 1. a `config.json` path or a folder holding one;
/// 2. a preset, by name, alias, or a Hub id the preset lists (`hub_ids`: the base and instruct
///    repos with the same shapes);
/// 3. the local Hugging Face cache (``HubCache``);
/// 4. only when asked (`allowsDownload`), the Hub (through `downloader`), stored into the cache.
///
/// Offline is the default: an id found nowhere is an error that names every place looked.
public struct ModelResolver: Sendable {
  /// Where a model came from, for the output's provenance line.
  public enum Source: Hashable, Sendable, CustomStringConvertible {
    case file(String)
    case preset(String)
    case cache(String)
    case downloaded(url: String, path: String)

    public var description: String {
      switch self {
      case .file(let path): return "file \(path)"
      case .preset(let name): return "preset \(name)"
      case .cache(let path): return "HF cache \(path)"
      case .downloaded(let url, let path): return "downloaded \(url) to \(path)"
      }
    }
  }

  /// The environment switch that allows downloading, like `--download`.
  public static let downloadVariable = "QLORA_BUDGET_DOWNLOAD"

  public var presets: PresetCatalog
  public var environment: [String: String]
  public var allowsDownload: Bool
  public var timeout: TimeInterval
  public var downloader: any ConfigDownloading

  /// `allowsDownload` is also set by `QLORA_BUDGET_DOWNLOAD=1`; `HF_HUB_OFFLINE=1` forbids it.
  public init(
    presets: PresetCatalog, environment: [String: String], allowsDownload: Bool, timeout: TimeInterval = 30,
    downloader: any ConfigDownloading = DownloaderProcess()
  ) {
    self.downloader = downloader
    self.presets = presets
    self.environment = environment
    let switched = ["1", "true", "yes", "on"].contains(environment[Self.downloadVariable]?.lowercased() ?? "")
    self.allowsDownload = allowsDownload || switched
    self.timeout = timeout
  }

  /// `readAs` as in ``ModelArchitecture/init(configData:name:readAs:)``.
  public func resolve(_ argument: String, readAs: String? = nil) throws(ModelSourceError) -> (
    model: ModelArchitecture, source: Source
  ) {
    if FileManager.default.fileExists(atPath: argument) || !argument.contains("/") || HubModelID(argument) == nil {
      do {
        let model = try presets.model(from: argument, readAs: readAs)
        let isFile = FileManager.default.fileExists(atPath: argument)
        return (model, isFile ? .file(argument) : .preset(model.name))
      } catch {
        throw .preset(error)
      }
    }
    guard let id = HubModelID(argument) else { throw .preset(.unknownModel(name: argument, suggestions: [])) }
    if let preset = presets.modelName(forHubID: id.description) {
      do {
        return (try presets.model(named: preset, readAs: readAs), .preset(preset))
      } catch {
        throw .preset(error)
      }
    }
    var looked = ["the presets' Hub ids (see 'qlora-budget presets models')"]
    if argument.hasSuffix(".json") { looked.insert("the files (no such file)", at: 0) }
    let cache = HubCache(environment: environment)
    if let cache {
      looked.append("the HF cache at \(cache.describeLocation(of: id))")
      if let file = try cache.configFile(for: id) {
        return (try Self.read(file, id: id, readAs: readAs), .cache(file.path))
      }
    } else {
      looked.append("no HF cache (HF_HUB_CACHE, HF_HOME and HOME are unset)")
    }
    let offline = ["1", "true", "yes", "on"].contains(environment["HF_HUB_OFFLINE"]?.lowercased() ?? "")
    guard allowsDownload, !offline, let cache else {
      let hint: DownloadHint = offline ? .offline : cache == nil ? .noCache : .notAllowed
      throw .notFound(id: argument, looked: looked, downloadHint: hint)
    }
    let downloaded = try downloader.download(id, environment: environment, timeout: timeout)
    let (data, commit, url) = (downloaded.data, downloaded.commit, downloaded.url)
    let file: URL
    do {
      file = try cache.store(data, for: id, commit: commit)
    } catch {
      throw .download(
        id: argument, url: url, reason: "cannot write the cache at \(cache.root.path): \(error.description)")
    }
    return (try Self.read(file, id: id, readAs: readAs), .downloaded(url: url, path: file.path))
  }

  /// A cached config.json, read with the same bounded reader and limit as a config.json path;
  /// an invalid one is the same error as an invalid config.json path.
  private static func read(_ file: URL, id: HubModelID, readAs: String?) throws(ModelSourceError) -> ModelArchitecture {
    let data: Data
    do {
      data = try InputFile.modelConfig.contents(of: file.path)
    } catch {
      throw .cache(path: file.path, reason: error.reason)
    }
    do {
      return try ModelArchitecture(configData: data, name: id.description, readAs: readAs)
    } catch {
      throw .preset(.invalidConfig(error))
    }
  }
}
