// swift-tools-version:5.9
// NoaberKit: the generated Swift bindings of `noaber-ffi` (module `NoaberFFI`) and an idiomatic
// Swift layer over them (module `NoaberKit`, which re-exports `NoaberFFI`).
//
// The C half of the bindings (module `noaber_ffiFFI`: the generated header and the Rust
// library) comes from two places:
// - Linux (the tests, `scripts/test-swift.sh`): a system-library target over the generated
//   header and modulemap copied into `Sources/noaber_ffiFFI/`, linked against the host-built
//   `libnoaber_ffi.so` in the workspace's `target/debug/` (or `$NOABER_FFI_LIB_DIR`).
// - Apple platforms: a binary target on `Frameworks/noaber_ffiFFI.xcframework`, built by
//   `ios/scripts/build-xcframework.sh` on a Mac.
// The choice is made by the platform that evaluates this manifest (`#if os(Linux)`);
// `NOABER_FFI=system` or `NOABER_FFI=xcframework` overrides it.
//
// swift-tools 5.9 compiles everything in the Swift 5 language mode: uniffi's generated code
// does not pass Swift 6's strict concurrency checks.
import Foundation
import PackageDescription

let packageDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path
let env = ProcessInfo.processInfo.environment

#if os(Linux)
let defaultFFI = "system"
#else
let defaultFFI = "xcframework"
#endif
let ffi = env["NOABER_FFI"] ?? defaultFFI

let ffiTarget: Target
let ffiLinker: [LinkerSetting]
if ffi == "system" {
    let libDir = env["NOABER_FFI_LIB_DIR"] ?? "\(packageDir)/../../target/debug"
    ffiTarget = .systemLibrary(name: "noaber_ffiFFI", path: "Sources/noaber_ffiFFI")
    ffiLinker = [
        .linkedLibrary("noaber_ffi"),
        .unsafeFlags(["-L", libDir, "-Xlinker", "-rpath", "-Xlinker", libDir]),
    ]
} else {
    ffiTarget = .binaryTarget(name: "noaber_ffiFFI", path: "Frameworks/noaber_ffiFFI.xcframework")
    ffiLinker = []
}

let package = Package(
    name: "NoaberKit",
    platforms: [.iOS(.v16), .macOS(.v13)],
    products: [
        .library(name: "NoaberKit", targets: ["NoaberKit"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "NoaberFFI",
            dependencies: ["noaber_ffiFFI"],
            exclude: ["README.md"],
            linkerSettings: ffiLinker
        ),
        .target(
            name: "NoaberKit",
            dependencies: ["NoaberFFI"]
        ),
        .testTarget(
            name: "NoaberKitTests",
            dependencies: ["NoaberKit"]
        ),
    ]
)
