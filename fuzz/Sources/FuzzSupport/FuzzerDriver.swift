#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer's entry point for programs that have a `main` of their own (compiler-rt's
/// FuzzerDriver.cpp). SwiftPM gives every executable target a `main` unless it was told
/// `--sanitize=fuzzer`, which `run.sh` cannot use (see README.md); so each target's `main.swift`
/// hands its callback to this driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Runs libFuzzer with the process's arguments and `callback`, then exits with its status.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}
