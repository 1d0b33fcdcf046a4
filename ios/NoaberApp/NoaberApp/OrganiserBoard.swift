// The organiser's board: help requests nobody was matched to yet (and how many nobody answered),
// and events with shifts short of volunteers. Both lists are the core's own queries
// (`status: "open"`, `needsResponse`), loaded by NoaberKit's `OrganiserBoard`.

import NoaberKit
import SwiftUI

@MainActor
final class OrganiserBoardModel: ObservableObject {
    let noaber: Noaber
    @Published private(set) var board: OrganiserBoard?
    @Published var error: String?

    init(noaber: Noaber) {
        self.noaber = noaber
    }

    func run() async {
        await reload()
        for await _ in noaber.changes() {
            await reload()
        }
    }

    func reload() async {
        do {
            board = try await noaber.local { try OrganiserBoard.load($0) }
        } catch {
            self.error = describe(error)
        }
    }

    /// Matches a responder to a request.
    func match(_ id: String, helper: String) async {
        do {
            try await noaber.local { try $0.matchHelp(id: id, helper: helper) }
        } catch {
            self.error = describe(error)
        }
    }
}

struct OrganiserBoardView: View {
    @StateObject var model: OrganiserBoardModel

    var body: some View {
        NavigationStack {
            List {
                if let board = model.board {
                    Section("Without a helper (\(board.withoutHelper.count), \(board.unanswered) unanswered)") {
                        ForEach(board.withoutHelper, id: \.id) { row in
                            NavigationLink {
                                MatchView(model: model, id: row.id)
                            } label: {
                                HStack {
                                    Text(row.title)
                                    Spacer()
                                    if row.needsResponse {
                                        Text("no response").font(.caption).foregroundStyle(.orange)
                                    }
                                }
                            }
                        }
                    }
                    Section("Short of volunteers") {
                        ForEach(board.shortOfVolunteers, id: \.summary.id) { event in
                            HStack {
                                Text(event.summary.title)
                                Spacer()
                                Text("\(event.shiftsFilled)/\(event.shiftsNeeded)").monospacedDigit()
                            }
                        }
                    }
                } else {
                    ProgressView()
                }
            }
            .navigationTitle("Board")
            .alert("Noaber", isPresented: Binding(get: { model.error != nil }, set: { if !$0 { model.error = nil } })) {
                Button("OK") { model.error = nil }
            } message: {
                Text(model.error ?? "")
            }
            .task { await model.run() }
        }
    }
}

/// A request's responders; matching one makes them the helper.
struct MatchView: View {
    @ObservedObject var model: OrganiserBoardModel
    let id: String
    @State private var view: HelpView?
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        List {
            if let view {
                Section { Text(view.title).font(.headline) }
                Section("Responses") {
                    ForEach(view.responses, id: \.self) { response in
                        Button {
                            Task {
                                await model.match(id, helper: response.member)
                                dismiss()
                            }
                        } label: {
                            Text(response.message)
                        }
                    }
                }
            }
        }
        .task { view = try? await model.noaber.local { [id] in try $0.help(id: id) } }
    }
}
