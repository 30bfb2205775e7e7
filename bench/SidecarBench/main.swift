import Crypto
import Foundation
import JWTKit
import SidecarCore
import Valkey

// Measures the core's hot paths beside a baseline measured in the same run, and prints one line
// per figure: `<what> ours=<ops/s> baseline=<ops/s> ratio=<ours/baseline>` (medians of the rounds).
//
//   SidecarBench jwt [seconds-per-round] [rounds]
//   SidecarBench valkey <url> <operation set|get> <concurrency> <requests> <pool size> [rounds]

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Runs `body` repeatedly for `seconds` and returns operations per second.
func rate(seconds: Double, _ body: () async throws -> Void) async rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    let end = start + .milliseconds(Int64(seconds * 1000))
    var count = 0
    while clock.now < end {
        for _ in 0..<64 { try await body() }
        count += 64
    }
    return Double(count) / (clock.now - start).seconds
}

func printLine(_ what: String, ours: [Double], baseline: [Double]) {
    let o = median(ours)
    let b = median(baseline)
    print(String(format: "%@ ours=%.0f baseline=%.0f ratio=%.2f", what, o, b, o / b))
}

func jwtBenchmark(seconds: Double, rounds: Int) async throws {
    let ec = P256.Signing.PrivateKey()
    let ed = try EdDSA.PrivateKey(curve: .ed25519)
    let edRaw = try Curve25519.Signing.PrivateKey(pemRepresentation: ed.pemRepresentation)
    let hsSecret = SecretBytes(String(repeating: "k", count: 32))
    func settings(_ keys: String?) -> JWTSettings {
        JWTSettings(
            accessSecret: keys == nil ? hsSecret : nil, previousAccessSecret: nil, refreshSecret: hsSecret,
            signingKeysJSON: keys, issuer: "bench", audience: "bench", accessTTL: .seconds(900),
            refreshTTL: .seconds(3600), leeway: .seconds(5))
    }
    let cases: [(String, String?)] = [
        ("HS256", nil),
        ("ES256", #"[{"kid":"ec","alg":"ES256","private_key":\#(String(reflecting: ec.pemRepresentation))}]"#),
        ("EdDSA", #"[{"kid":"ed","alg":"EdDSA","private_key":\#(String(reflecting: ed.pemRepresentation))}]"#),
    ]
    for (name, keys) in cases {
        // TokenService remembers nothing: every call verifies the signature and decodes the claims afresh.
        let service = try await TokenService(settings: settings(keys))
        let (token, _) = try await service.issueAccessToken(userID: "usrBenchmark01", accessID: TokenService.randomID())
        let parts = token.split(separator: ".")
        let signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        let signature = Data(base64URL: String(parts[2]))!
        // The baseline: only the signature check of the same token with swift-crypto, no parsing.
        let baseline: () -> Bool
        switch name {
        case "HS256":
            let key = SymmetricKey(data: hsSecret.bytes)
            baseline = { HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: key) }
        case "ES256":
            let publicKey = ec.publicKey
            let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: signature)
            baseline = { publicKey.isValidSignature(ecdsa, for: signingInput) }
        default:
            let publicKey = edRaw.publicKey
            baseline = { publicKey.isValidSignature(signature, for: signingInput) }
        }
        precondition(baseline(), "baseline must accept the token")
        var ours: [Double] = []
        var floor: [Double] = []
        for _ in 0..<rounds {
            ours.append(try await rate(seconds: seconds) { _ = try await service.verifyAccessToken(token) })
            floor.append(await rate(seconds: seconds) { precondition(baseline()) })
        }
        printLine("jwt_verify_\(name)_per_s", ours: ours, baseline: floor)
    }
}

func valkeyBenchmark(url: String, operation: String, concurrency: Int, requests: Int, poolSize: Int, rounds: Int) async throws {
    let configuration = try ValkeyConfiguration(url: url, poolSize: poolSize)
    let client = ValkeyClient(configuration: configuration)
    let value = "xxx"  // redis-benchmark's default 3-byte payload
    try await client.ping()
    var results: [Double] = []
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var i = worker
                    while i < requests {
                        if operation == "set" {
                            try await client.set("bench:key:\(i % 1000)", to: value)
                        } else {
                            _ = try await client.get("bench:key:\(i % 1000)")
                        }
                        i += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
        results.append(Double(requests) / (ContinuousClock.now - start).seconds)
    }
    await client.shutdown()
    print(String(format: "valkey_%@_per_s ours=%.0f", operation, median(results)))
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        self.init(base64Encoded: base64)
    }
}

/// Issues a Gateway access token for a made-up user and stores its access id, as the Gateway's
/// login will; prints the token. Used by bench/authplugin-rest.sh.
func mintGatewayToken(valkeyURL: String, accessSecret: String) async throws {
    let client = ValkeyClient(configuration: try ValkeyConfiguration(url: valkeyURL))
    let settings = JWTSettings(
        accessSecret: SecretBytes(accessSecret), previousAccessSecret: nil, refreshSecret: SecretBytes(accessSecret),
        signingKeysJSON: nil, issuer: "tinode-sidecar", audience: "tinode-sidecar", accessTTL: .seconds(3600),
        refreshTTL: .seconds(3600), leeway: .seconds(5))
    let service = try await TokenService(settings: settings)
    let accessID = TokenService.randomID()
    let (token, claims) = try await service.issueAccessToken(userID: "usrBenchUser01", accessID: accessID)
    try await ValkeyTokenStore(client: client).put(
        TokenRecord(
            accessID: accessID, userID: claims.userID, tinodeToken: "YmVuY2g=", tinodeTokenExpires: claims.expiresAt,
            createdAt: Date()),
        ttl: .seconds(3600))
    await client.shutdown()
    print(token)
}

let arguments = CommandLine.arguments
switch arguments.dropFirst().first {
case "mint-gateway-token" where arguments.count == 4:
    try await mintGatewayToken(valkeyURL: arguments[2], accessSecret: arguments[3])
case "jwt":
    try await jwtBenchmark(
        seconds: arguments.count > 2 ? Double(arguments[2])! : 1.0, rounds: arguments.count > 3 ? Int(arguments[3])! : 5)
case "valkey" where arguments.count >= 7:
    try await valkeyBenchmark(
        url: arguments[2], operation: arguments[3], concurrency: Int(arguments[4])!, requests: Int(arguments[5])!,
        poolSize: Int(arguments[6])!, rounds: arguments.count > 7 ? Int(arguments[7])! : 3)
default:
    FileHandle.standardError.write(
        Data("usage: SidecarBench jwt [seconds] [rounds] | valkey <url> <set|get> <concurrency> <requests> <pool> [rounds]\n".utf8))
    exit(2)
}
