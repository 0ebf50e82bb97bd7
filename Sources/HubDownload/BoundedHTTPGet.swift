import Foundation

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// One HTTP GET whose answer is bounded while it arrives, and whose credential stays with the
/// host it was meant for.
///
/// - **Size**: the body is streamed through a data delegate and the transfer is cancelled as
///   soon as more than `limit` bytes have arrived. The count is of the bytes delivered, which
///   are after `Content-Encoding` decompression (libcurl decodes gzip and deflate before the
///   delegate sees them), so a small compressed body that inflates past the limit stops too.
///   `URLSession.bytes(for:)` would do the same, but FoundationNetworking on Linux has no
///   `AsyncBytes`; the data delegate works on both platforms.
/// - **Time**: `timeout` bounds the whole transfer, not only the wait between two packets: a
///   server that drips one byte a second ends at the deadline.
/// - **Credential**: `authorization` is sent only to the origin (scheme, host and port) of the
///   first URL. A redirect is followed (at most ``maximumRedirects``) only to `https`, or to
///   `http` on this machine; to another origin it goes without the credential.
struct BoundedHTTPGet {
  static let maximumRedirects = 5
  /// Pieces of the body (and delegate calls) handed to the delegate at most: at libcurl's
  /// largest write (16 KiB) they hold 64 MiB; a 4 MiB body needs more only in pieces averaging
  /// under 1 KiB.
  static let maximumPieces = 4096

  enum Failure: Error, Equatable {
    case timedOut
    case tooLarge
    /// A redirect to a place the request may not follow (`reason` says why).
    case redirectRefused(target: String, reason: String)
    case network(String)
  }

  let url: URL
  let headers: [String: String]
  /// The `Authorization` header's value, sent only to `url`'s origin.
  let authorization: String?
  let limit: Int
  let timeout: TimeInterval

  func run() -> Result<(response: HTTPURLResponse, body: Data), Failure> {
    var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    if let authorization { request.setValue(authorization, forHTTPHeaderField: "Authorization") }
    let transfer = Transfer(origin: Origin(url), authorization: authorization, limit: limit)
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = timeout
    configuration.timeoutIntervalForResource = timeout
    configuration.httpCookieStorage = nil
    configuration.urlCredentialStorage = nil
    let delegateQueue = PieceCountingQueue(limit: Self.maximumPieces)
    delegateQueue.maxConcurrentOperationCount = 1
    let session = URLSession(configuration: configuration, delegate: transfer, delegateQueue: delegateQueue)
    let task = session.dataTask(with: request)
    task.resume()
    let deadline = DispatchTime.now() + timeout
    while transfer.done.wait(timeout: min(deadline, .now() + .milliseconds(2))) == .timedOut {
      let failure: Failure? =
        transfer.isOverLimit || delegateQueue.isOverLimit ? .tooLarge : DispatchTime.now() >= deadline ? .timedOut : nil
      guard let failure else { continue }
      transfer.fail(failure)
      task.cancel()
      session.invalidateAndCancel()
      delegateQueue.cancelAllOperations()
      return .failure(failure)
    }
    session.finishTasksAndInvalidate()
    return transfer.outcome
  }

  /// The delegate's queue, bounded where FoundationNetworking hands it each piece of the body.
  ///
  /// FoundationNetworking queues every piece (at most libcurl's 16 KiB write size) for the
  /// delegate with no back pressure, and cannot pause a transfer (suspending one mid-body is a
  /// fatal error there); its cancel is asynchronous, behind libcurl's read loop. On a fast
  /// connection or a busy machine that queued gigabytes before the delegate saw the byte over
  /// the limit. This queue counts what is added, on libcurl's own thread: past `limit` pieces
  /// it drops them, so the memory they hold is released at once, and the transfer fails.
  private final class PieceCountingQueue: OperationQueue, @unchecked Sendable {
    private let limit: Int
    private let lock = NSLock()
    private var added = 0

    init(limit: Int) {
      self.limit = limit
      super.init()
    }

    var isOverLimit: Bool { lock.withLock { added > limit } }

    override func addOperation(_ block: @escaping @Sendable () -> Void) {
      let count = lock.withLock { () -> Int in
        added += 1
        return added
      }
      guard count <= limit else { return }
      super.addOperation(block)
    }
  }

  /// Scheme, host and port, compared case-insensitively, with the scheme's default port.
  struct Origin: Equatable {
    let scheme: String
    let host: String
    let port: Int

    init(_ url: URL) {
      scheme = url.scheme?.lowercased() ?? ""
      host = url.host?.lowercased() ?? ""
      port = url.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
    }

    var isLoopback: Bool { Self.loopbackHosts.contains(host) }
    static let loopbackHosts: Set<String> = ["127.0.0.1", "localhost", "::1", "[::1]"]
  }

  /// The delegate: collects the body up to the limit and applies the redirect rule.
  private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private let origin: Origin
    private let authorization: String?
    private let limit: Int
    private let lock = NSLock()
    private var body = Data()
    private var response: HTTPURLResponse?
    private var failure: Failure?
    private var redirects = 0

    init(origin: Origin, authorization: String?, limit: Int) {
      self.origin = origin
      self.authorization = authorization
      self.limit = limit
    }

    var isOverLimit: Bool { lock.withLock { failure == .tooLarge } }

    /// The first failure wins (a cancellation after a refusal reports the refusal).
    func fail(_ failure: Failure) {
      lock.withLock { if self.failure == nil { self.failure = failure } }
    }

    var outcome: Result<(response: HTTPURLResponse, body: Data), Failure> {
      lock.withLock {
        if let failure { return .failure(failure) }
        guard let response else { return .failure(.network("no HTTP response")) }
        return .success((response, body))
      }
    }

    func urlSession(
      _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
      completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
      lock.withLock { self.response = response as? HTTPURLResponse }
      if response.expectedContentLength > Int64(limit) {
        fail(.tooLarge)
        completionHandler(.cancel)
        dataTask.cancel()
        return
      }
      completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
      let over = lock.withLock { () -> Bool in
        guard body.count + data.count <= limit else { return true }
        body.append(data)
        return false
      }
      if over {
        fail(.tooLarge)
        dataTask.cancel()
      }
    }

    func urlSession(
      _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
      newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
      // The Location header as the server wrote it, resolved against the answering URL:
      // FoundationNetworking turns a `file:` location into a path on the same server.
      let location = response.value(forHTTPHeaderField: "Location")
      guard let target = location.flatMap({ URL(string: $0, relativeTo: response.url)?.absoluteURL }) ?? request.url
      else {
        fail(.redirectRefused(target: "", reason: "no target"))
        completionHandler(nil)
        task.cancel()
        return
      }
      let next = Origin(target)
      let count = lock.withLock { () -> Int in
        redirects += 1
        return redirects
      }
      let refusal: String? =
        count > BoundedHTTPGet.maximumRedirects
        ? "more than \(BoundedHTTPGet.maximumRedirects) redirects"
        : next.scheme == "https" || (next.scheme == "http" && next.isLoopback)
          ? nil : "only https (or http to this machine) is followed"
      if let refusal {
        fail(.redirectRefused(target: target.absoluteString, reason: refusal))
        completionHandler(nil)
        task.cancel()
        return
      }
      var followed = request
      followed.url = target
      followed.setValue(next == origin ? authorization : nil, forHTTPHeaderField: "Authorization")
      completionHandler(followed)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
      if let error {
        fail((error as? URLError)?.code == .timedOut ? .timedOut : .network(error.localizedDescription))
      }
      done.signal()
    }
  }
}
