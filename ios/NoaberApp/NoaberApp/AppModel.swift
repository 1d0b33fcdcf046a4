// The app's state: the one store, the active buurt and the live sync that runs while the app
// is in the foreground.

import Foundation
import NoaberKit
import SwiftUI

@MainActor
final class AppModel: ObservableObject {
    enum Phase {
        case opening
        case failed(String)
        case needsBuurt
        case ready(Noaber, Buurt)
    }

    @Published private(set) var phase: Phase = .opening
    private(set) var noaber: Noaber?
    private var live: Task<Void, Never>?

    /// Opens the store in Application Support and, when a buurt was joined before, starts.
    func start() async {
        guard noaber == nil else { return }
        do {
            let dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                  appropriateFor: nil, create: true)
            let noaber = try await Noaber.open(path: dir.appendingPathComponent("noaber.db").path)
            self.noaber = noaber
            if let id = noaber.store.activeBuurt() {
                let buurt = try await noaber.local { try $0.buurt(buurtId: id) }
                enter(noaber, buurt)
            } else {
                phase = .needsBuurt
            }
        } catch {
            phase = .failed(describe(error))
        }
    }

    /// Joins a buurt with an invite code.
    ///
    /// - Throws: the `NoaberError` the join view shows (invalid invite, offline).
    func join(relayUrl: String, invite: String, displayName: String) async throws {
        guard let noaber else { return }
        let buurt = try await noaber.join(relayUrl: relayUrl, invite: invite, displayName: displayName)
        enter(noaber, buurt)
    }

    private func enter(_ noaber: Noaber, _ buurt: Buurt) {
        phase = .ready(noaber, buurt)
        live?.cancel()
        // Live sync for as long as the app runs; rounds and failures reach the screens through
        // `changes()` and `syncStatusUpdates`. Ending the loop (cancel) stops the Rust side.
        live = Task.detached(priority: .utility) {
            do {
                for try await _ in noaber.liveSync(buurtId: buurt.id) {}
            } catch {
                // The buurt was left; nothing to keep in sync.
            }
        }
    }
}

/// A sentence for a failed call; `NoaberError` names what a screen acts on.
func describe(_ error: Error) -> String {
    switch error {
    case NoaberError.Network:
        return "Offline — saved on this phone, it will sync later."
    case NoaberError.Rejected(let code, _) where code == "invite_invalid":
        return "This invite code is not valid (any more)."
    case NoaberError.Rejected(_, let reason):
        return "The buurt server refused: \(reason)"
    case NoaberError.InvalidInput(let field, let reason):
        return "\(field): \(reason)"
    case NoaberError.NotAllowed(let reason):
        return "Not possible: \(reason)"
    case NoaberError.NotFound:
        return "This is no longer there."
    case NoaberError.Storage:
        return "The data on this phone cannot be read or written."
    default:
        return "Something went wrong."
    }
}

/// Shows what waits to sync and whether the last attempt failed.
struct SyncBanner: View {
    let noaber: Noaber
    let buurtId: String
    @State private var status: SyncStatus?

    var body: some View {
        Group {
            if let status, status.pending > 0 || status.lastError != nil {
                HStack {
                    Image(systemName: status.lastError == nil ? "arrow.triangle.2.circlepath" : "wifi.slash")
                    Text(status.lastError == nil
                         ? "\(status.pending) change(s) syncing…"
                         : "Offline — \(status.pending) change(s) wait to sync")
                }
                .font(.footnote)
                .padding(6)
                .frame(maxWidth: .infinity)
                .background(.thinMaterial)
            }
        }
        .task {
            for await next in noaber.syncStatusUpdates(buurtId: buurtId) { status = next }
        }
    }
}

/// Joining a buurt: relay address, invite code, name.
struct JoinView: View {
    @EnvironmentObject private var app: AppModel
    @State private var relayUrl = "https://"
    @State private var invite = ""
    @State private var name = ""
    @State private var error: String?
    @State private var busy = false

    var body: some View {
        NavigationStack {
            Form {
                Section("Your buurt") {
                    TextField("Server address", text: $relayUrl)
                        .textInputAutocapitalization(.never)
                        .keyboardType(.URL)
                    TextField("Invite code", text: $invite)
                        .textInputAutocapitalization(.characters)
                    TextField("Your name", text: $name)
                }
                if let error {
                    Text(error).foregroundStyle(.red)
                }
                Button(busy ? "Joining…" : "Join") {
                    busy = true
                    Task {
                        defer { busy = false }
                        do {
                            try await app.join(relayUrl: relayUrl, invite: invite, displayName: name)
                        } catch is CancellationError {
                        } catch {
                            self.error = describe(error)
                        }
                    }
                }
                .disabled(busy || invite.isEmpty || name.isEmpty)
            }
            .navigationTitle("Join Noaber")
        }
    }
}
