// The Noaber iOS app: three journeys over NoaberKit — a resident's home, a caretaker's
// "report an issue" flow that works offline, and an organiser's board. Screens read the
// store's projections through NoaberKit's snapshots and re-read them when `changes()` says
// something changed; every decision about the domain is the core's.

import NoaberKit
import SwiftUI

@main
struct NoaberApp: App {
    @StateObject private var app = AppModel()

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(app)
                .task { await app.start() }
        }
    }
}

/// Joins first; then the journeys the member's role has.
struct RootView: View {
    @EnvironmentObject private var app: AppModel

    var body: some View {
        switch app.phase {
        case .opening:
            ProgressView("Opening…")
        case .failed(let message):
            ContentUnavailableView("Cannot open Noaber", systemImage: "exclamationmark.triangle", description: Text(message))
        case .needsBuurt:
            JoinView()
        case .ready(let noaber, let buurt):
            TabView {
                ResidentHomeView(model: ResidentHomeModel(noaber: noaber))
                    .tabItem { Label("Home", systemImage: "house") }
                ReportIssueView(model: ReportIssueModel(noaber: noaber, buurtId: buurt.id))
                    .tabItem { Label("Report", systemImage: "exclamationmark.bubble") }
                if buurt.role == .organiser || buurt.role == .staff {
                    OrganiserBoardView(model: OrganiserBoardModel(noaber: noaber))
                        .tabItem { Label("Board", systemImage: "list.bullet.clipboard") }
                }
            }
            .safeAreaInset(edge: .top) { SyncBanner(noaber: noaber, buurtId: buurt.id) }
        }
    }
}
