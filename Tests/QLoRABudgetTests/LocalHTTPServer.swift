import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for the download tests (no internet here): answers
/// each request path from a table, records the requests, and stops by itself after
/// `lifetime` seconds at the latest. One connection at a time; `Connection: close`.
final class LocalHTTPServer: @unchecked Sendable {
  enum Reply: Sendable {
    case respond(status: Int, headers: [(String, String)], body: Data)
    /// Accept and read the request, then say nothing for `seconds` (a timeout for the client).
    case stall(seconds: Double)
    /// `200` with a chunked body that never ends (until the client hangs up or the server stops).
    case endless(chunk: Data)
    /// `200` announcing `length` bytes, then one byte every `interval` seconds.
    case drip(length: Int, interval: Double)
  }

  let port: UInt16
  private let listener: Int32
  private let replies: [String: Reply]
  private let lock = NSLock()
  private var recorded: [String] = []
  private var stopped = false
  private let finished = DispatchSemaphore(value: 0)

  /// The raw request heads received so far.
  var requests: [String] { lock.withLock { recorded } }

  init(replies: [String: Reply], lifetime: Double = 60) throws {
    self.replies = replies
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw POSIXError(.EIO) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0  // any free port
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(socketFD, 8) == 0 else {
      close(socketFD)
      throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
    }
    port = UInt16(bigEndian: address.sin_port)
    listener = socketFD
    let deadline = Date().addingTimeInterval(lifetime)
    let thread = Thread { [self] in
      serve(until: deadline)
      finished.signal()
    }
    thread.start()
  }

  /// `http://127.0.0.1:PORT`.
  var endpoint: String { "http://127.0.0.1:\(port)" }

  func stop() {
    lock.withLock { stopped = true }
    _ = finished.wait(timeout: .now() + 5)
    close(listener)
  }

  private var isStopped: Bool { lock.withLock { stopped } }

  private func serve(until deadline: Date) {
    while !isStopped, Date() < deadline {
      var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 100) > 0 else { continue }
      let connection = accept(listener, nil, nil)
      guard connection >= 0 else { continue }
      handle(connection)
      close(connection)
    }
  }

  private func handle(_ connection: Int32) {
    var head = Data()
    var buffer = [UInt8](repeating: 0, count: 4096)
    let terminator = Data("\r\n\r\n".utf8)
    while head.range(of: terminator) == nil, head.count < 65536 {
      var poller = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
      guard poll(&poller, 1, 2000) > 0 else { return }
      let count = read(connection, &buffer, buffer.count)
      guard count > 0 else { return }
      head.append(contentsOf: buffer[0..<count])
    }
    let text = String(decoding: head, as: UTF8.self)
    lock.withLock { recorded.append(text) }
    let path = text.split(separator: " ").dropFirst().first.map(String.init) ?? ""
    switch replies[path] ?? .respond(status: 404, headers: [], body: Data("Entry not found".utf8)) {
    case .stall(let seconds):
      let end = Date().addingTimeInterval(seconds)
      while Date() < end, !isStopped { usleep(20_000) }
    case .respond(let status, let headers, let body):
      var response =
        "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
      for (name, value) in headers { response += "\(name): \(value)\r\n" }
      var bytes = Data((response + "\r\n").utf8)
      bytes.append(body)
      _ = send(bytes, on: connection)
    case .endless(let chunk):
      guard
        send(Data("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8), on: connection)
      else { return }
      var piece = Data((String(chunk.count, radix: 16) + "\r\n").utf8)
      piece.append(chunk)
      piece.append(Data("\r\n".utf8))
      while !isStopped, send(piece, on: connection) {}
    case .drip(let length, let interval):
      guard send(Data("HTTP/1.1 200 OK\r\nContent-Length: \(length)\r\nConnection: close\r\n\r\n".utf8), on: connection)
      else { return }
      for _ in 0..<length where !isStopped {
        guard send(Data(" ".utf8), on: connection) else { return }
        usleep(useconds_t(interval * 1_000_000))
      }
    }
  }

  /// Writes all of `bytes`; false when the client has gone (no SIGPIPE: `MSG_NOSIGNAL`).
  private func send(_ bytes: Data, on connection: Int32) -> Bool {
    bytes.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let written = Glibc.send(connection, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
        guard written > 0 else { return false }
        offset += written
      }
      return true
    }
  }
}
