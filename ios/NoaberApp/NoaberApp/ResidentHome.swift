// A resident's home: the help board (ask or offer), upcoming events with RSVP, and the tasks
// they adopted.

import NoaberKit
import SwiftUI

@MainActor
final class ResidentHomeModel: ObservableObject {
    let noaber: Noaber
    @Published private(set) var home: ResidentHome?
    @Published var error: String?

    init(noaber: Noaber) {
        self.noaber = noaber
    }

    /// Loads the home, then again after every change, until the view goes away.
    func run() async {
        await reload()
        for await _ in noaber.changes() {
            await reload()
        }
    }

    func reload() async {
        do {
            home = try await noaber.local { try ResidentHome.load($0) }
        } catch {
            self.error = describe(error)
        }
    }

    /// Asks for or offers help; saved at once, synced by the live sync.
    func post(offer: Bool, category: String, title: String, body: String) async -> Bool {
        do {
            _ = try await noaber.local {
                try $0.createHelp(new: NewHelp(offer: offer, category: category, title: title, body: body))
            }
            return true
        } catch {
            self.error = describe(error)
            return false
        }
    }

    func respond(to id: String, message: String) async {
        await act { try $0.respondHelp(id: id, message: message) }
    }

    func rsvp(_ id: String, _ answer: Rsvp) async {
        await act { _ = try $0.rsvpEvent(id: id, answer: answer) }
    }

    func record(task id: String, date: String) async {
        await act { try $0.recordOccurrence(id: id, date: date, outcome: .done, note: "") }
    }

    private func act(_ body: @escaping @Sendable (NoaberStore) throws -> Void) async {
        do {
            try await noaber.local(body)
        } catch {
            self.error = describe(error)
        }
    }
}

struct ResidentHomeView: View {
    @StateObject var model: ResidentHomeModel
    @State private var composing: Bool?

    var body: some View {
        NavigationStack {
            List {
                if let home = model.home {
                    if !home.notices.isEmpty {
                        Section("For you") {
                            ForEach(home.notices, id: \.self) { notice in
                                VStack(alignment: .leading) {
                                    Text(notice.title).font(.headline)
                                    Text(notice.text).font(.subheadline)
                                }
                            }
                        }
                    }
                    Section("Help board") {
                        if home.helpBoard.isEmpty {
                            Text("Nobody needs help right now.").foregroundStyle(.secondary)
                        }
                        ForEach(home.helpBoard, id: \.id) { row in
                            NavigationLink(row.title) { HelpDetailView(model: model, id: row.id) }
                        }
                    }
                    Section("Events") {
                        ForEach(home.upcomingEvents, id: \.id) { row in
                            EventRow(row: row) { answer in Task { await model.rsvp(row.id, answer) } }
                        }
                    }
                    Section("My tasks") {
                        ForEach(home.myTasks, id: \.id) { row in
                            TaskRow(model: model, row: row)
                        }
                    }
                } else {
                    ProgressView()
                }
            }
            .navigationTitle("Buurt")
            .toolbar {
                Menu {
                    Button("Ask for help") { composing = false }
                    Button("Offer help") { composing = true }
                } label: {
                    Image(systemName: "plus")
                }
            }
            .sheet(item: Binding(get: { composing.map(Compose.init) }, set: { composing = $0?.offer })) { compose in
                ComposeHelpView(model: model, offer: compose.offer)
            }
            .alert("Noaber", isPresented: Binding(get: { model.error != nil }, set: { if !$0 { model.error = nil } })) {
                Button("OK") { model.error = nil }
            } message: {
                Text(model.error ?? "")
            }
            .task { await model.run() }
        }
    }

    private struct Compose: Identifiable {
        let offer: Bool
        var id: Bool { offer }
    }
}

struct HelpDetailView: View {
    @ObservedObject var model: ResidentHomeModel
    let id: String
    @State private var view: HelpView?
    @State private var message = ""

    var body: some View {
        Form {
            if let view {
                Section {
                    Text(view.title).font(.headline)
                    if !view.body.isEmpty { Text(view.body) }
                    if !view.locationLabel.isEmpty { Label(view.locationLabel, systemImage: "mappin") }
                }
                Section("Respond") {
                    TextField("I can help on…", text: $message)
                    Button("Send") { Task { await model.respond(to: id, message: message); await load() } }
                        .disabled(message.isEmpty)
                }
                Section("\(view.responses.count) response(s)") {
                    ForEach(view.responses, id: \.self) { Text($0.message) }
                }
            }
        }
        .task { await load() }
    }

    private func load() async {
        view = try? await model.noaber.local { [id] in try $0.help(id: id) }
    }
}

struct EventRow: View {
    let row: Summary
    let rsvp: (Rsvp) -> Void

    var body: some View {
        VStack(alignment: .leading) {
            Text(row.title).font(.headline)
            if let start = row.startsAt {
                Text(Date(timeIntervalSince1970: Double(start) / 1000), style: .date).font(.subheadline)
            }
            HStack {
                Button("Going") { rsvp(.going) }
                Button("Maybe") { rsvp(.maybe) }
                Button("No") { rsvp(.declined) }
            }
            .buttonStyle(.bordered)
        }
    }
}

struct TaskRow: View {
    @ObservedObject var model: ResidentHomeModel
    let row: Summary
    @State private var current: String?

    var body: some View {
        HStack {
            VStack(alignment: .leading) {
                Text(row.title)
                Text(row.status).font(.caption).foregroundStyle(.secondary)
            }
            Spacer()
            if let current {
                Button("Done today") { Task { await model.record(task: row.id, date: current) } }
                    .buttonStyle(.borderedProminent)
            }
        }
        .task(id: row.updatedAt) {
            current = try? await model.noaber.local { [id = row.id] in try $0.task(id: id).currentOccurrence }
        }
    }
}

struct ComposeHelpView: View {
    @ObservedObject var model: ResidentHomeModel
    let offer: Bool
    @Environment(\.dismiss) private var dismiss
    @State private var category = "groceries"
    @State private var title = ""
    @State private var details = ""

    // The core's help categories (core/src/model/help.rs `CATEGORIES`; the bindings do not
    // export the list yet).
    private let categories = ["groceries", "transport", "odd_jobs", "company", "paperwork", "garden", "other"]

    var body: some View {
        NavigationStack {
            Form {
                Picker("Category", selection: $category) {
                    ForEach(categories, id: \.self) { Text($0) }
                }
                TextField("Title", text: $title)
                TextField("Details", text: $details, axis: .vertical)
            }
            .navigationTitle(offer ? "Offer help" : "Ask for help")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Post") {
                        Task {
                            if await model.post(offer: offer, category: category, title: title, body: details) { dismiss() }
                        }
                    }
                    .disabled(title.isEmpty)
                }
            }
        }
    }
}
