import Foundation
import Valkey

@testable import SidecarCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh Tinode uid as Tinode writes it after `usr`: 11 characters of base64url.
func makeTinodeUID() -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return String((0..<11).map { _ in alphabet.randomElement()! })
}

/// A fresh subject of one test issuer.
func makeSubject(issuer: String = "https://issuer.example") -> ExternalSubject {
    ExternalSubject(issuer: issuer, subject: "subject-\(UUID().uuidString)")
}

/// A fresh, already normalised e-mail address.
func makeLinkEmail(domain: String = "example.com") -> String {
    "user-\(UUID().uuidString.lowercased())@\(domain)"
}
