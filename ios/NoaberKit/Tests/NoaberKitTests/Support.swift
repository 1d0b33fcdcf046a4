// Test support: a real relay process, stores in temporary folders, recorders for listeners, a
// "silent relay" that accepts a sync and never answers, and bounded waits.

import Foundation
import XCTest
@testable import NoaberKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An upper bound for things that normally take milliseconds.
let waitSeconds: Double = 30

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real `noaber-relay serve` on a free port (`--listen 127.0.0.1:0`; the port is read from
/// its first line, `listening on HOST:PORT`), with a temporary data folder, one buurt and
/// invites for three roles.
final class Relay: @unchecked Sendable {
    let bin: String
    let data: URL
    let process = Process()
    let url: String
    let buurt: String
    let invites: [String: String]

    init() throws {
        bin = ProcessInfo.processInfo.environment["NOABER_RELAY_BIN"] ?? "target/debug/noaber-relay"
        data = FileManager.default.temporaryDirectory.appendingPathComponent("noaber-relay-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: bin)
        process.arguments = ["serve", "--data", data.path, "--listen", "127.0.0.1:0"]
        var environment = ProcessInfo.processInfo.environment
        environment["NOABER_RELAY_JOIN_BURST"] = "1000"
        environment["RUST_LOG"] = "warn"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = Relay.readLine(out.fileHandleForReading)
        guard line.hasPrefix("listening on ") else {
            process.terminate()
            throw Failure("relay did not start: '\(line)'")
        }
        url = "http://" + line.dropFirst("listening on ".count)
        let created = try Relay.admin(bin, data, ["create-buurt", "De Linde"])
        buurt = try Relay.field(created, "buurt_id")
        var invites: [String: String] = [:]
        for role in ["resident", "organiser", "caretaker"] {
            let out = try Relay.admin(bin, data, ["invite", "--buurt", buurt, "--role", role, "--uses", "50"])
            invites[role] = try Relay.field(out, "code")
        }
        self.invites = invites
    }

    private static func readLine(_ handle: FileHandle) -> String {
        var bytes: [UInt8] = []
        while true {
            let chunk = handle.readData(ofLength: 1)
            guard let byte = chunk.first, byte != UInt8(ascii: "\n") else { break }
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func admin(_ bin: String, _ data: URL, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["admin"] + args + ["--data", data.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw Failure("relay admin \(args[0]) failed") }
        return text
    }

    private static func field(_ json: String, _ name: String) throws -> String {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        guard let value = object?[name] as? String else { throw Failure("no \(name) in relay output") }
        return value
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: data)
    }
}

/// Stores in a temporary folder, removed after each test.
final class Scope {
    let relay: Relay
    let dir: URL

    init(_ relay: Relay) throws {
        self.relay = relay
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("noaber-swift-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func store(_ name: String) throws -> NoaberStore {
        try NoaberStore.open(path: dir.appendingPathComponent("\(name).db").path)
    }

    /// A store opened through the wrapper.
    func noaber(_ name: String) async throws -> Noaber {
        try await Noaber.open(path: dir.appendingPathComponent("\(name).db").path)
    }

    /// A store joined to the test buurt with an invite for `role`, through the wrapper.
    func member(_ name: String, _ role: String) async throws -> Noaber {
        let n = try await noaber(name)
        let b = try await n.join(relayUrl: relay.url, invite: relay.invites[role]!, displayName: name)
        XCTAssertEqual(b.id, relay.buurt, "joined buurt")
        XCTAssertEqual("\(n.store.identity().role)", role, "role from the invite")
        return n
    }

    /// Syncs each store once, in order, through the wrapper.
    @discardableResult
    func sync(_ members: Noaber...) async throws -> [SyncReport] {
        var reports: [SyncReport] = []
        for m in members {
            reports.append(try await m.sync(buurtId: relay.buurt))
        }
        return reports
    }

    func close() {
        try? FileManager.default.removeItem(at: dir)
    }
}

/// The name of the calling thread, as Linux knows it (Rust names its network threads
/// `noaber-net`); empty where /proc is not there.
func currentThreadName() -> String {
    let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return comm.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Records change notifications and the threads they came on.
final class Recorder: ChangeListener, @unchecked Sendable {
    private let lock = NSLock()
    private var _batches: [[Changed]] = []
    private var _threads: Set<String> = []

    func onChange(changed: [Changed]) {
        let name = currentThreadName()
        lock.lock()
        defer { lock.unlock() }
        _threads.insert(name)
        _batches.append(changed)
    }

    var batches: [[Changed]] { lock.lock(); defer { lock.unlock() }; return _batches }
    var threads: Set<String> { lock.lock(); defer { lock.unlock() }; return _threads }
    var ids: Set<String> { Set(batches.joined().map(\.id)) }
}

/// A listener whose own work fails: Swift's `onChange` cannot throw (the generated protocol
/// is not `throws`; a trap would end the process, as it would in any Swift code), so the
/// Swift twin of Kotlin's throwing listener calls back into the store from the Rust thread
/// (allowed: no lock is held) with a malformed id, which fails, and records that it ran.
final class Thrower: ChangeListener, @unchecked Sendable {
    let store: NoaberStore
    private let lock = NSLock()
    private var _calls = 0
    init(store: NoaberStore) { self.store = store }
    func onChange(changed: [Changed]) {
        lock.lock()
        _calls += 1
        lock.unlock()
        _ = try? store.help(id: "not-an-id")
    }
    var calls: Int { lock.lock(); defer { lock.unlock() }; return _calls }
}

/// Waits for a semaphore off the cooperative thread pool.
func signalled(_ semaphore: DispatchSemaphore, seconds: Double = waitSeconds) async -> Bool {
    await withCheckedContinuation { cont in
        DispatchQueue.global().async {
            cont.resume(returning: semaphore.wait(timeout: .now() + seconds) == .success)
        }
    }
}

/// Fails the test unless `semaphore` is signalled within the usual bound.
func assertSignalled(_ semaphore: DispatchSemaphore, _ message: String, file: StaticString = #filePath, line: UInt = #line) async {
    let ok = await signalled(semaphore)
    XCTAssertTrue(ok, message, file: file, line: line)
}

/// The outcome of `task`, or a failure after `seconds` (the task is left running then).
func outcome<T>(of task: Task<T, Error>, within seconds: Double = waitSeconds) async throws -> Result<T, Error> {
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task.detached {
        let r = await task.result
        box.set(r)
        done.signal()
    }
    guard await signalled(done, seconds: seconds) else { throw Failure("no result within \(seconds) s") }
    return box.get()!
}

final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, Error>?
    func set(_ v: Result<T, Error>) { lock.lock(); value = v; lock.unlock() }
    func get() -> Result<T, Error>? { lock.lock(); defer { lock.unlock() }; return value }
}

/// Asserts that `body` throws a `NoaberError` matching `match` and returns it.
@discardableResult
func assertNoaberError(_ body: () throws -> Void, _ match: (NoaberError) -> Bool, file: StaticString = #filePath, line: UInt = #line) -> NoaberError? {
    do {
        try body()
        XCTFail("nothing was thrown", file: file, line: line)
    } catch let e as NoaberError {
        XCTAssertTrue(match(e), "unexpected error \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("expected NoaberError, got \(error)", file: file, line: line)
    }
    return nil
}

/// The async twin of ``assertNoaberError(_:_:file:line:)``.
@discardableResult
func assertNoaberErrorAsync(_ body: () async throws -> Void, _ match: (NoaberError) -> Bool, file: StaticString = #filePath, line: UInt = #line) async -> NoaberError? {
    do {
        try await body()
        XCTFail("nothing was thrown", file: file, line: line)
    } catch let e as NoaberError {
        XCTAssertTrue(match(e), "unexpected error \(e)", file: file, line: line)
        return e
    } catch {
        XCTFail("expected NoaberError, got \(error)", file: file, line: line)
    }
    return nil
}

func help(_ title: String, _ category: String = "other") -> NewHelp {
    NewHelp(category: category, title: title)
}

/// A relay that answers the join and then never answers a sync; it notes when the device hangs
/// up, which shows the Rust task really stopped.
final class SilentRelay: @unchecked Sendable {
    let port: UInt16
    let member = String(repeating: "ab", count: 16)
    let gotSync = DispatchSemaphore(value: 0)
    let hungUp = DispatchSemaphore(value: 0)
    private let fd: Int32
    private let thread: Thread

    init() throws {
        #if canImport(Glibc)
        let stream = Int32(SOCK_STREAM.rawValue)
        #else
        let stream = SOCK_STREAM
        #endif
        let fd = socket(AF_INET, stream, 0)
        guard fd >= 0 else { throw Failure("socket failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw Failure("bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        self.port = UInt16(bigEndian: addr.sin_port)
        let member = self.member, gotSync = self.gotSync, hungUp = self.hungUp
        thread = Thread {
            while true {
                let conn = accept(fd, nil, nil)
                if conn < 0 { break }
                SilentRelay.serve(conn, member: member, gotSync: gotSync, hungUp: hungUp)
                close(conn)
            }
        }
        thread.start()
    }

    private static func serve(_ conn: Int32, member: String, gotSync: DispatchSemaphore, hungUp: DispatchSemaphore) {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !(head.count >= 4 && head.suffix(4) == [13, 10, 13, 10]) {
            if recv(conn, &byte, 1, 0) <= 0 { break }
            head.append(byte)
        }
        if String(decoding: head, as: UTF8.self).hasPrefix("POST /v1/join") {
            let body = "{\"v\":1,\"buurt\":\"\(String(repeating: "cd", count: 16))\",\"buurt_name\":\"Stil\",\"member\":\"\(member)\","
                + "\"role\":\"resident\",\"device\":\"\(String(repeating: "ef", count: 16))\",\"token\":\"\(String(repeating: "t", count: 64))\"}"
            let response = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                + "content-length: \(body.utf8.count)\r\n\r\n\(body)"
            let bytes = Array(response.utf8)
            _ = bytes.withUnsafeBytes { send(conn, $0.baseAddress, $0.count, 0) }
        } else {
            gotSync.signal()
            var timeout = timeval(tv_sec: Int(waitSeconds), tv_usec: 0)
            setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(conn, &buffer, buffer.count, 0)
                if n == 0 { hungUp.signal(); break } // the device closed the connection
                if n < 0 { break } // timed out: the device never hung up
                // the request body; then nothing
            }
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

/// A value behind a lock, for closures called on Rust threads.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var inner: T

    init(_ value: T) {
        inner = value
    }

    var value: T {
        lock.lock()
        defer { lock.unlock() }
        return inner
    }

    func mutate(_ body: (inout T) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&inner)
    }
}

/// The camera-like fixture (`tests/fixtures/photos/camera.jpg`): EXIF with a GPS position, a
/// serial number and the owner's name, XMP, a comment.
let cameraJpg = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent() // NoaberKitTests
    .deletingLastPathComponent() // Tests
    .deletingLastPathComponent() // NoaberKit
    .deletingLastPathComponent() // ios
    .deletingLastPathComponent() // the repository
    .appendingPathComponent("tests/fixtures/photos/camera.jpg")
