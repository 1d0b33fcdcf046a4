// What the app's three journeys show, as plain snapshots loaded with the store's own queries.
//
// They live here rather than in the SwiftUI sources so that the Linux tests reach them: a
// screen's view model loads one of these off the main actor and loads it again when
// `Noaber.changes()` names something. Which rows belong on a screen is decided by the core's
// queries (`ListQuery` filters, `needsResponse`, effective statuses); these only ask.

import Foundation

/// A resident's home: the help board, upcoming events, their own tasks and what they were told.
public struct ResidentHome: Equatable, Sendable {
    /// Open help requests and offers (not yet matched, not expired), newest first.
    public var helpBoard: [Summary]
    /// Events that have not ended yet, soonest first.
    public var upcomingEvents: [Summary]
    /// Tasks the resident adopted, backs up or pledged to.
    public var myTasks: [Summary]
    /// Notices for the resident (waitlisted, not matched, …).
    public var notices: [MyNotice]

    /// Loads the home screen, `limit` rows per list.
    ///
    /// - Throws: `NoaberError.Storage` when the database cannot be read.
    public static func load(_ store: NoaberStore, limit: UInt32 = 20) throws -> ResidentHome {
        let now = store.nowMs()
        return ResidentHome(
            helpBoard: try store.list(query: ListQuery(kind: .help, status: "open", limit: limit)).items,
            upcomingEvents: try store.list(query: ListQuery(kind: .event, timeFrom: now, order: .upcoming, limit: limit)).items,
            myTasks: try store.list(query: ListQuery(kind: .task, mine: true, limit: limit)).items,
            notices: try store.myNotices()
        )
    }
}

/// An organiser's board: help requests nobody was matched to yet, and events short of
/// volunteers.
public struct OrganiserBoard: Equatable, Sendable {
    /// Open help requests and offers without a helper (status `open`), newest first.
    public var withoutHelper: [Summary]
    /// Of the rows in ``withoutHelper``, how many nobody has responded to yet.
    public var unanswered: UInt64
    /// Events that have not ended and have a shift short of volunteers, soonest first.
    public var shortOfVolunteers: [ShortEvent]

    /// Loads the board, `limit` rows per list.
    ///
    /// - Throws: `NoaberError.Storage` when the database cannot be read.
    public static func load(_ store: NoaberStore, limit: UInt32 = 50) throws -> OrganiserBoard {
        let open = try store.list(query: ListQuery(kind: .help, status: "open", limit: limit)).items
        let events = try store.list(query: ListQuery(
            kind: .event, timeFrom: store.nowMs(), needsResponse: true, order: .upcoming, limit: limit)).items
        return OrganiserBoard(
            withoutHelper: open,
            unanswered: UInt64(open.filter(\.needsResponse).count),
            shortOfVolunteers: events.map(ShortEvent.init(summary:))
        )
    }
}

/// An event with a shift short of volunteers, with the coverage figures the list row carries.
public struct ShortEvent: Equatable, Sendable {
    /// The event's list row.
    public var summary: Summary
    /// Volunteer places over all shifts.
    public var shiftsNeeded: Int64
    /// Of those, filled.
    public var shiftsFilled: Int64

    /// Reads the coverage from the row's event detail; a row of another kind has none (0, 0).
    public init(summary: Summary) {
        self.summary = summary
        switch summary.detail {
        case let .event(capacity: _, going: _, waitlisted: _, maybe: _, shiftsNeeded: needed, shiftsFilled: filled):
            self.shiftsNeeded = needed
            self.shiftsFilled = filled
        default:
            self.shiftsNeeded = 0
            self.shiftsFilled = 0
        }
    }
}

/// The caretaker's "report an issue" screen: their reports and what still waits to sync.
public struct ReportOutbox: Equatable, Sendable {
    /// Reports the caretaker made or takes part in, newest first.
    public var myReports: [Summary]
    /// Local changes of every kind not yet acknowledged by the relay.
    public var pending: UInt64
    /// The active buurt's sync status (`nil` before joining one).
    public var status: SyncStatus?

    /// Loads the screen for the active buurt.
    ///
    /// - Throws: `NoaberError.Storage` when the database cannot be read.
    public static func load(_ store: NoaberStore, limit: UInt32 = 20) throws -> ReportOutbox {
        ReportOutbox(
            myReports: try store.list(query: ListQuery(kind: .report, mine: true, limit: limit)).items,
            pending: try store.pendingCount(),
            status: try store.activeBuurt().map { try store.syncStatus(buurtId: $0) }
        )
    }
}

/// What happened to a local write made with ``Noaber/saveThenSync(buurtId:_:)``.
public enum SyncOutcome: Sendable {
    /// The write and everything before it reached the relay.
    case synced(SyncReport)
    /// Saved on this device; it waits in the outbox (offline, or the relay refused the
    /// device) and goes with the next sync.
    case waiting(NoaberError)
}

extension Noaber {
    /// Writes locally (which works offline), then tries to sync at once.
    ///
    /// The write is what matters: a sync that fails leaves it in the outbox and is reported
    /// as ``SyncOutcome/waiting(_:)``, not thrown.
    ///
    /// - Throws: what `write` throws (the local write failed: nothing was saved), or
    ///   `CancellationError` when the task was cancelled during the sync (the write stays).
    public func saveThenSync<T>(buurtId: String, _ write: @escaping @Sendable (NoaberStore) throws -> T)
        async throws -> (T, SyncOutcome)
    {
        let value = try await local(write)
        do {
            return (value, .synced(try await sync(buurtId: buurtId)))
        } catch let error as NoaberError {
            return (value, .waiting(error))
        }
    }
}

#if compiler(>=6)
#else
extension Summary: @unchecked Sendable {}
extension MyNotice: @unchecked Sendable {}
extension NoaberError: @unchecked Sendable {}
#endif
