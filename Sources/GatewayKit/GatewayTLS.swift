import Hummingbird
import HummingbirdTLS
import SidecarCore

/// The Gateway's HTTPS settings for `SSL=true`: the PEM certificate chain and private key from
/// `SSL_CERT_FILE` and `SSL_KEY_FILE` (plain files or Docker secrets), TLS 1.2 at the least.
enum GatewayTLS {
    static func configuration(certificateFile: String, keyFile: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ConfigurationError(setting: Settings.sslCertificateFile.name, reason: "cannot read a PEM certificate chain: \(error)")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(setting: Settings.sslCertificateFile.name, reason: "holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ConfigurationError(setting: Settings.sslKeyFile.name, reason: "cannot read a PEM private key: \(error)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
