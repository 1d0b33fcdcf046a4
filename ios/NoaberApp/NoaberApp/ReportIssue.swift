// The caretaker's "report an issue" flow. It works offline: a report is saved on the phone at
// once and waits in the outbox; the screen shows what waits to sync (`pendingCount`,
// `syncStatus`) and tries to sync right after saving.

import NoaberKit
import SwiftUI

@MainActor
final class ReportIssueModel: ObservableObject {
    let noaber: Noaber
    let buurtId: String
    @Published private(set) var outbox: ReportOutbox?
    @Published private(set) var lastOutcome: String?
    @Published var error: String?

    init(noaber: Noaber, buurtId: String) {
        self.noaber = noaber
        self.buurtId = buurtId
    }

    /// Loads the screen; again after every change and every sync status change.
    func run() async {
        await reload()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [noaber] in
                for await _ in noaber.changes() { await self.reload() }
            }
            group.addTask { [noaber, buurtId] in
                for await _ in noaber.syncStatusUpdates(buurtId: buurtId) { await self.reload() }
            }
        }
    }

    func reload() async {
        do {
            outbox = try await noaber.local { try ReportOutbox.load($0) }
        } catch {
            self.error = describe(error)
        }
    }

    /// Saves the report on the phone, then tries to sync it at once.
    func submit(_ new: NewReport) async -> Bool {
        do {
            let (_, outcome) = try await noaber.saveThenSync(buurtId: buurtId) { try $0.createReport(new: new) }
            switch outcome {
            case .synced:
                lastOutcome = "Sent."
            case .waiting(let why):
                lastOutcome = "Saved on this phone. \(describe(why))"
            }
            return true
        } catch is CancellationError {
            lastOutcome = "Saved on this phone; it will sync later."
            return true
        } catch {
            self.error = describe(error)
            return false
        }
    }

    /// Tries again now (a "sync now" button).
    func syncNow() async {
        do {
            _ = try await noaber.sync(buurtId: buurtId)
        } catch {
            lastOutcome = describe(error)
        }
    }
}

struct ReportIssueView: View {
    @StateObject var model: ReportIssueModel
    @State private var composing = false

    var body: some View {
        NavigationStack {
            List {
                if let outbox = model.outbox {
                    Section {
                        HStack {
                            Label(outbox.pending == 0 ? "Everything is sent" : "\(outbox.pending) change(s) wait to sync",
                                  systemImage: outbox.pending == 0 ? "checkmark.icloud" : "icloud.and.arrow.up")
                            Spacer()
                            Button("Sync now") { Task { await model.syncNow() } }
                                .disabled(outbox.pending == 0)
                        }
                        if let error = outbox.status?.lastError {
                            Text("Last attempt failed: \(error)").font(.caption).foregroundStyle(.secondary)
                        }
                        if let outcome = model.lastOutcome {
                            Text(outcome).font(.caption)
                        }
                    }
                    Section("My reports") {
                        ForEach(outbox.myReports, id: \.id) { row in
                            VStack(alignment: .leading) {
                                Text(row.title)
                                Text(row.status).font(.caption).foregroundStyle(.secondary)
                                if row.unsynced {
                                    Text("Not sent yet").font(.caption).foregroundStyle(.orange)
                                }
                            }
                        }
                    }
                } else {
                    ProgressView()
                }
            }
            .navigationTitle("Report an issue")
            .toolbar { Button { composing = true } label: { Image(systemName: "plus") } }
            .sheet(isPresented: $composing) { NewReportView(model: model) }
            .alert("Noaber", isPresented: Binding(get: { model.error != nil }, set: { if !$0 { model.error = nil } })) {
                Button("OK") { model.error = nil }
            } message: {
                Text(model.error ?? "")
            }
            .task { await model.run() }
        }
    }
}

struct NewReportView: View {
    @ObservedObject var model: ReportIssueModel
    @Environment(\.dismiss) private var dismiss
    @State private var category = "lighting"
    @State private var severity = "normal"
    @State private var description = ""
    @State private var floor = ""
    @State private var stairwell = ""
    // The location: a real app fills these from Core Location; editable here.
    @State private var lat = 52.0907
    @State private var lon = 5.1214

    // The core's report categories and severities (core/src/model/report.rs; the bindings do
    // not export the lists yet).
    private let categories = ["litter", "graffiti", "lighting", "damage", "pests", "overgrowth",
                              "bulky_waste", "unsafe_situation", "other"]
    private let severities = ["low", "normal", "high", "urgent"]

    var body: some View {
        NavigationStack {
            Form {
                Picker("What", selection: $category) { ForEach(categories, id: \.self) { Text($0) } }
                Picker("How bad", selection: $severity) { ForEach(severities, id: \.self) { Text($0) } }
                TextField("Describe it", text: $description, axis: .vertical)
                Section("Where") {
                    TextField("Floor", text: $floor)
                    TextField("Stairwell", text: $stairwell)
                    LabeledContent("Position", value: String(format: "%.5f, %.5f", lat, lon))
                }
            }
            .navigationTitle("New report")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) { Button("Cancel") { dismiss() } }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Save") {
                        let new = NewReport(category: category, description: description, lat: lat, lon: lon,
                                            floor: floor.isEmpty ? nil : floor,
                                            stairwell: stairwell.isEmpty ? nil : stairwell, severity: severity)
                        Task { if await model.submit(new) { dismiss() } }
                    }
                }
            }
        }
    }
}
