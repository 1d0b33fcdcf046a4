// The Swift binding tests: NoaberKit (and the generated `NoaberFFI` under it) against
// libnoaber_ffi and a real relay. The same fifteen scenarios as
// tests/bindings/kotlin/BindingTests.kt and tests/bindings/python/test_bindings.py, through
// the `Noaber` wrapper where it adds something (async calls, cancellation, streams, the
// screens' snapshots) and through the raw `NoaberStore` elsewhere. Run by
// scripts/test-swift.sh, which names the relay binary in NOABER_RELAY_BIN.

import Foundation
import XCTest
@testable import NoaberKit

final class NoaberKitTests: XCTestCase {
    nonisolated(unsafe) static var sharedRelay: Relay?

    override class func setUp() {
        super.setUp()
        sharedRelay = try? Relay()
    }

    override class func tearDown() {
        sharedRelay?.stop()
        sharedRelay = nil
        super.tearDown()
    }

    /// A fresh scope on the shared relay; the test fails at once if the relay did not start.
    private func scope() throws -> Scope {
        guard let relay = Self.sharedRelay else { throw Failure("the relay did not start (NOABER_RELAY_BIN?)") }
        return try Scope(relay)
    }

    // MARK: - Journeys, one per role

    func testHelpJourney() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        let org = try await t.member("fatima", "organiser")
        let id = try await ans.local {
            try $0.createHelp(new: NewHelp(category: "groceries", title: "Boodschappen dinsdag",
                                           precision: "stairwell", locationLabel: "Portiek 12"))
        }
        XCTAssertEqual(try ans.store.help(id: id).status, .open, "new request")
        let reports = try await t.sync(ans, bert)
        XCTAssertEqual(reports[0].accepted, 1, "accepted")
        XCTAssertGreaterThanOrEqual(reports[1].applied, 1, "bert pulled nothing")
        let open = try bert.store.list(query: ListQuery(kind: .help, needsResponse: true))
        XCTAssertEqual(open.items.first?.id, id, "needs a response, newest first")
        // The organiser's board (the buurt is shared with the other tests: compare with what
        // was on it before): without a helper, and nobody answered yet.
        try await t.sync(org)
        var board = try await org.local { try OrganiserBoard.load($0) }
        let before = board.withoutHelper.filter { $0.id != id }
        XCTAssertEqual(board.withoutHelper.map(\.id), [id] + before.map(\.id), "board: without a helper")
        XCTAssertEqual(board.unanswered, UInt64(before.filter(\.needsResponse).count) + 1, "board: unanswered")
        try bert.store.respondHelp(id: id, message: "Ik kan dinsdag")
        try await t.sync(bert, org)
        XCTAssertEqual(try org.store.help(id: id).responses.map(\.member), [bert.store.identity().member], "responders")
        board = try OrganiserBoard.load(org.store)
        XCTAssertEqual(board.withoutHelper.map(\.id), [id] + before.map(\.id), "board: answered but still without a helper")
        XCTAssertEqual(board.unanswered, UInt64(before.filter(\.needsResponse).count), "board: answered")
        try org.store.matchHelp(id: id, helper: bert.store.identity().member)
        XCTAssertEqual(try OrganiserBoard.load(org.store).withoutHelper.map(\.id), before.map(\.id), "board: matched")
        try await t.sync(org, ans)
        let matched = try ans.store.help(id: id)
        XCTAssertEqual(matched.status, .matched, "status")
        XCTAssertEqual(matched.helper, bert.store.identity().member, "helper")
        XCTAssertEqual(matched.matchedBy, org.store.identity().member, "matched by")
        try ans.store.completeHelp(id: id)
        try ans.store.thankHelp(id: id, text: "Dank je wel!")
        let done = try ans.store.help(id: id)
        XCTAssertEqual(done.status, .done, "status")
        XCTAssertEqual(done.thanks.map(\.text), ["Dank je wel!"], "thanks")
        let comment = try bert.store.addComment(entityId: id, body: "Graag gedaan")
        try await t.sync(bert, ans)
        XCTAssertEqual(try ans.store.comments(entityId: id).map { [$0.id, $0.body] }, [[comment, "Graag gedaan"]], "comments")
        try bert.store.editComment(entityId: id, commentId: comment, body: "Graag gedaan, tot volgende keer")
        try bert.store.withdrawComment(entityId: id, commentId: comment)
        XCTAssertEqual(try bert.store.comments(entityId: id).map(\.withdrawn), [true], "comment withdrawn")
        try await t.sync(bert)
        let found = try bert.store.list(query: ListQuery(text: "boodschap"))
        XCTAssertEqual(found.items.map { [$0.id, $0.status] }, [[id, "done"]], "search")
    }

    func testEventJourney() async throws {
        let t = try scope()
        defer { t.close() }
        let org = try await t.member("organiser", "organiser")
        let ans = try await t.member("ans", "resident")
        let start = org.store.nowMs() + 7 * 86_400_000
        let id = try org.store.createEvent(new: NewEvent(
            title: "Buurtbarbecue", startsAt: start, endsAt: start + 4 * 3_600_000, place: "Binnentuin", capacity: 1))
        let role = try org.store.addEventRole(id: id, name: "Opbouw", description: "tafels en stoelen")
        let shift = try org.store.addEventShift(id: id, roleId: role, startsAt: start - 3_600_000, endsAt: start, needed: 1)
        XCTAssertEqual(try org.store.rsvpEvent(id: id, answer: .going), .going(place: 1), "organiser's place")
        // The organiser's board: a shift short of volunteers.
        // (The buurt is shared with the other tests: look for this event.)
        let short = try OrganiserBoard.load(org.store).shortOfVolunteers.filter { $0.summary.id == id }
        XCTAssertEqual(short.map { [$0.shiftsNeeded, $0.shiftsFilled] }, [[1, 0]], "board: short")
        try await t.sync(org, ans)
        XCTAssertEqual(try ans.store.rsvpEvent(id: id, answer: .going), .waitlisted(position: 1), "the only place is taken")
        XCTAssertEqual(try ans.store.signupShift(id: id, shiftId: shift), .on, "shift")
        let view = try ans.store.event(id: id)
        XCTAssertEqual(view.myAttendance, .waitlisted(position: 1), "my attendance")
        XCTAssertEqual(view.shifts.map(\.mySlot), [.on], "my slot")
        XCTAssertEqual([view.shiftsNeeded, view.shiftsFilled], [1, 1], "coverage")
        XCTAssertTrue(try ResidentHome.load(ans.store).upcomingEvents.map(\.id).contains(id), "home: upcoming")
        try await t.sync(ans, org)
        XCTAssertFalse(try OrganiserBoard.load(org.store).shortOfVolunteers.map(\.summary.id).contains(id), "board: covered")
        _ = try org.store.rsvpEvent(id: id, answer: .declined)
        try await t.sync(org, ans)
        XCTAssertEqual(try ans.store.event(id: id).myAttendance, .going(place: 1), "promoted from the waitlist")
        try org.store.editEvent(id: id, edit: EventEdit(point: .set(point: GeoPoint(lat: 52.09, lon: 5.12)), capacity: .unlimited))
        let edited = try org.store.event(id: id)
        XCTAssertNil(edited.capacity, "capacity")
        XCTAssertEqual(edited.point, GeoPoint(lat: 52.09, lon: 5.12), "point")
        let upcoming = try ans.store.list(query: ListQuery(kind: .event, order: .upcoming))
        XCTAssertEqual(upcoming.items.map(\.id), [id], "upcoming")
        try org.store.cancelEvent(id: id, reason: "regen")
        XCTAssertEqual(try org.store.event(id: id).status, .cancelled, "status")
    }

    func testTaskJourney() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        let id = try ans.store.createTask(new: NewTask(title: "Binnentuin water geven", rrule: "FREQ=DAILY", dtstart: "2026-01-01"))
        XCTAssertEqual(try ans.store.task(id: id).status, .unadopted, "new task")
        try ans.store.claimTask(id: id)
        try await t.sync(ans, bert)
        try bert.store.claimTask(id: id)
        let view = try bert.store.task(id: id)
        XCTAssertEqual(view.adopter, ans.store.identity().member, "adopter")
        XCTAssertEqual(view.backups, [bert.store.identity().member], "backups")
        XCTAssertEqual(view.status, .active, "status")
        let day = try XCTUnwrap(view.currentOccurrence, "no current occurrence")
        try bert.store.recordOccurrence(id: id, date: day, outcome: .done, note: "flink gegoten")
        let item = try bert.store.addChecklistItem(id: id, text: "gieter vullen")
        let recorded = try bert.store.task(id: id)
        XCTAssertEqual(recorded.occurrences.first?.date, day, "occurrence date")
        XCTAssertEqual(recorded.occurrences.first?.outcome, .done, "occurrence outcome")
        XCTAssertEqual(recorded.checklist.map(\.id), [item], "checklist")
        try bert.store.removeChecklistItem(id: id, itemId: item)
        try await t.sync(bert, ans)
        try ans.store.pauseTask(id: id)
        XCTAssertEqual(try ans.store.task(id: id).status, .paused, "paused")
        try ans.store.resumeTask(id: id)
        try ans.store.releaseTask(id: id)
        XCTAssertEqual(try ans.store.task(id: id).adopter, bert.store.identity().member, "hand-over to the backup")
        XCTAssertEqual(try bert.store.list(query: ListQuery(kind: .task, mine: true)).items.map(\.id), [id], "mine")
        let home = try await bert.local { try ResidentHome.load($0) }
        XCTAssertEqual(home.myTasks.map(\.id), [id], "home: my tasks")
        let pledge = try ans.store.createTask(new: NewTask(title: "Bankje schilderen", pledgeTarget: 2))
        try ans.store.pledgeTask(id: pledge)
        XCTAssertEqual(try ans.store.task(id: pledge).status, .pledging, "pledging")
        try ans.store.unpledgeTask(id: pledge)
    }

    func testARestrictedRequestReachesOnlyItsReaders() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let kees = try await t.member("kees", "resident")
        let org = try await t.member("fatima", "organiser")
        let id = try ans.store.createHelp(new: NewHelp(category: "paperwork", title: "Brief van de bank", audience: .participants))
        let readers = try ans.store.readers(entityId: id)
        XCTAssertEqual(readers.audience, .participants, "audience")
        XCTAssertEqual(readers.members, [ans.store.identity().member], "readers")
        try await t.sync(ans, kees, org)
        XCTAssertEqual(try org.store.help(id: id).title, "Brief van de bank", "the organiser reads it")
        assertNoaberError({ _ = try kees.store.help(id: id) }) { if case .NotFound = $0 { true } else { false } }
        assertNoaberError({ try kees.store.share(entityId: id, memberId: kees.store.identity().member) }) {
            if case .NotFound = $0 { true } else { false }
        }
        try org.store.share(entityId: id, memberId: kees.store.identity().member)
        try await t.sync(org, kees)
        XCTAssertEqual(try kees.store.help(id: id).title, "Brief van de bank", "shared, the neighbour reads it")
        // Only the creator or an organiser shares further.
        assertNoaberError({ try kees.store.share(entityId: id, memberId: org.store.identity().member) }) {
            if case .NotAllowed = $0 { true } else { false }
        }
        let open = try ans.store.createHelp(new: help("Boodschappen", "groceries"))
        assertNoaberError({ try ans.store.share(entityId: open, memberId: kees.store.identity().member) }) {
            if case .InvalidInput(field: "audience", _) = $0 { true } else { false }
        }
    }

    func testReportJourney() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        let care = try await t.member("caretaker", "caretaker")
        let id = try ans.store.createReport(new: NewReport(
            category: "lighting", description: "Lamp kapot", lat: 52.0907, lon: 5.1214, floor: "kelder", severity: "high"))
        XCTAssertEqual(try ans.store.syncStatus(buurtId: t.relay.buurt).pending, 1, "waits to sync")
        let outbox = try await ans.local { try ReportOutbox.load($0) }
        XCTAssertEqual(outbox.myReports.map(\.id), [id], "outbox: my reports")
        XCTAssertEqual(outbox.myReports.map(\.unsynced), [true], "outbox: not sent yet")
        XCTAssertEqual(outbox.pending, 1, "outbox: pending")
        XCTAssertEqual(outbox.status?.pending, 1, "outbox: status")
        try await t.sync(ans, bert, care)
        XCTAssertEqual(try ans.store.syncStatus(buurtId: t.relay.buurt).pending, 0, "synced")
        XCTAssertEqual(try ReportOutbox.load(ans.store).myReports.map(\.unsynced), [false], "sent")
        try bert.store.meTooReport(id: id)
        try care.store.transitionReport(id: id, step: .acknowledge)
        try care.store.setReportResponsible(id: id, party: "Gemeente")
        try care.store.setReportResponse(id: id, text: "We komen donderdag")
        try care.store.transitionReport(id: id, step: .resolve)
        try await t.sync(bert, care, ans)
        let view = try ans.store.report(id: id)
        XCTAssertEqual(view.status, .resolved, "status")
        XCTAssertEqual(view.timeline.map(\.to), [.acknowledged, .resolved], "timeline")
        XCTAssertEqual(view.timeline.first?.role, .caretaker, "role in the timeline")
        XCTAssertEqual(view.meToo.map(\.member), [bert.store.identity().member], "me too")
        XCTAssertEqual(view.responsible, "Gemeente", "responsible")
        XCTAssertEqual(view.response, "We komen donderdag", "response")
        XCTAssertEqual(view.title, "Lamp kapot", "title")
        _ = try ans.store.attachPhotoFile(id: id, path: cameraJpg.path)
        try ans.store.transitionReport(id: id, step: .confirm)
        XCTAssertEqual(try ans.store.report(id: id).status, .confirmed, "confirmed")
        XCTAssertEqual(try ans.store.report(id: id).photos.count, 1, "photos")
        let box = BBox(south: 52.08, west: 5.11, north: 52.10, east: 5.13)
        XCTAssertEqual(try ans.store.list(query: ListQuery(kind: .report, bbox: box)).items.map(\.id), [id], "bbox")
    }

    func testAPhotoTakenOfflineArrivesOnAnotherDeviceWithoutMetadata() async throws {
        let t = try scope()
        defer { t.close() }
        let care = try await t.member("caretaker", "caretaker")
        let ans = try await t.member("ans", "resident")
        let id = try care.store.createReport(new: NewReport(category: "lighting", lat: 52.2001, lon: 5.3001))
        let jpeg = try Data(contentsOf: cameraJpg)
        let photo = try await care.local { try $0.attachPhoto(id: id, bytes: jpeg) }
        XCTAssertEqual(photo.mime, "image/jpeg", "mime")
        XCTAssertEqual([photo.width, photo.height], [96, 64], "size")
        let held = try XCTUnwrap(try care.store.photo(hash: photo.hash), "held here")
        for secret in ["SN-HOME-4242", "Ans de Vries", "GPS", "xmpmeta"] {
            XCTAssertNil(held.bytes.range(of: Data(secret.utf8)), "\(secret) survived")
        }
        XCTAssertEqual(try care.store.photoUploads().first?.state, .pending, "queued")
        do {
            _ = try await care.local { try $0.attachPhoto(id: id, bytes: Data("GIF89a".utf8)) }
            XCTFail("a GIF is not accepted")
        } catch let NoaberError.InvalidInput(field, _) {
            XCTAssertEqual(field, "photo", "field")
        }

        try await t.sync(care, ans)
        XCTAssertEqual(try ans.store.report(id: id).photos.map(\.photo.hash), [photo.hash], "the reference")
        let pending = try await ans.fetchPhoto(buurtId: t.relay.buurt, hash: photo.hash)
        XCTAssertNil(pending, "pending until uploaded")

        let seen = Locked<[PhotoProgress]>([])
        let report = try await care.uploadPhotos(buurtId: t.relay.buurt) { p in seen.mutate { $0.append(p) } }
        XCTAssertEqual(report.completed, 1, "uploaded")
        XCTAssertEqual(seen.value.last, PhotoProgress(hash: photo.hash, entityId: id, sent: photo.size, total: photo.size))
        let got = try await ans.fetchPhoto(buurtId: t.relay.buurt, hash: photo.hash)
        XCTAssertEqual(got?.bytes, held.bytes, "the same clean bytes")
        XCTAssertEqual(got?.mime, "image/jpeg", "mime")
    }

    func testProfileListsAndCounts() async throws {
        let t = try scope()
        defer { t.close() }
        let s = try t.store("solo")
        let me = try s.setIdentity(role: .organiser, displayName: "Fatima", household: "Complex 4")
        XCTAssertEqual(me.role, .organiser, "role")
        XCTAssertEqual(me.displayName, "Fatima", "name")
        XCTAssertEqual(me.household, "Complex 4", "household")
        XCTAssertNil(try s.myProfile(), "no profile yet")
        let pid = try s.createProfile(new: NewProfile(displayName: "Fatima", skills: ["fietsen"]))
        try s.addSkill(id: pid, skill: "Turks")
        try s.removeSkill(id: pid, skill: "fietsen")
        try s.editProfile(id: pid, edit: ProfileEdit(availability: "woensdagmiddag"))
        let p = try XCTUnwrap(try s.myProfile(), "no profile")
        XCTAssertEqual(p.id, pid, "profile id")
        XCTAssertEqual(p.skills, ["Turks"], "skills")
        XCTAssertEqual(p.availability, "woensdagmiddag", "availability")
        var ids: [String] = []
        for i in 0..<5 { ids.append(try s.createHelp(new: help("Koffie \(i)", "company"))) }
        var seen: [String] = []
        var after: String? = nil
        repeat {
            let page = try s.list(query: ListQuery(kind: .help, limit: 2, after: after))
            XCTAssertLessThanOrEqual(page.items.count, 2, "page larger than its limit")
            seen += page.items.map(\.id)
            after = page.next
        } while after != nil
        XCTAssertEqual(seen.sorted(), ids.sorted(), "all pages")
        let counts = try s.statusCounts()
        XCTAssertEqual(counts.first { $0.kind == .help && $0.status == "open" }?.count, 5, "open requests")
        XCTAssertEqual(try s.kindOf(id: ids[0]), .help, "kind")
        XCTAssertEqual(try s.pendingCount(), 9, "4 profile changes and 5 requests wait to sync")
        XCTAssertEqual(try s.myNotices(), [], "notices")
        XCTAssertEqual(try s.rebuildProjections(), 6, "rebuilt")
    }

    // MARK: - Errors

    func testInvalidInputNamesTheField() async throws {
        let t = try scope()
        defer { t.close() }
        let n = try await t.noaber("errors")
        for (call, field) in [
            ({ _ = try n.store.createHelp(new: help("")) }, "title"),
            ({ _ = try n.store.help(id: "not-an-id") }, "id"),
            ({ _ = try n.store.list(query: ListQuery(limit: 501)) }, "limit"),
        ] as [(() throws -> Void, String)] {
            assertNoaberError(call) { if case .InvalidInput(field: field, _) = $0 { true } else { false } }
        }
        // Through the wrapper's background queue, the same error arrives.
        do {
            _ = try await n.local { try $0.createHelp(new: help("")) }
            XCTFail("nothing was thrown")
        } catch NoaberError.InvalidInput(let field, let reason) {
            XCTAssertEqual(field, "title")
            XCTAssertFalse(reason.isEmpty, "a reason")
        }
    }

    func testNotFoundAndNotAllowed() async throws {
        let t = try scope()
        defer { t.close() }
        let s = try t.store("errors")
        let missing = "0123456789abcdef0123456789abcdef"
        assertNoaberError({ _ = try s.help(id: missing) }) { if case .NotFound(_, id: missing) = $0 { true } else { false } }
        let refused = assertNoaberError({
            _ = try s.createEvent(new: NewEvent(title: "Feest", startsAt: 0, endsAt: 1, place: "Hier"))
        }) { if case .NotAllowed = $0 { true } else { false } }
        if case .NotAllowed(let reason) = refused {
            XCTAssertTrue(reason.contains("resident"), "reason names the role: \(reason)")
        }
        let id = try s.createHelp(new: help("Brood"))
        try s.cancelHelp(id: id, reason: "")
        assertNoaberError({ try s.completeHelp(id: id) }) { if case .NotAllowed = $0 { true } else { false } }
        assertNoaberError({ _ = try s.syncStatus(buurtId: missing) }) { if case .NotFound = $0 { true } else { false } }
        XCTAssertNotNil(refused?.errorDescription, "a developer-readable description")
    }

    func testRelayRefusalAndOffline() async throws {
        let t = try scope()
        defer { t.close() }
        let n = try await t.noaber("errors")
        await assertNoaberErrorAsync({
            _ = try await n.join(relayUrl: t.relay.url, invite: "AAAA-BBBB-CCCC", displayName: "Iemand")
        }) { if case .Rejected(code: "invite_invalid", _) = $0 { true } else { false } }
        // A port nobody listens on: bind one, note it, close it.
        let closed = try SilentRelay()
        let port = closed.port
        closed.stop()
        await assertNoaberErrorAsync({
            _ = try await n.join(relayUrl: "http://127.0.0.1:\(port)", invite: "AAAA-BBBB-CCCC", displayName: "Iemand")
        }) { if case .Network = $0 { true } else { false } }
    }

    // MARK: - Listeners

    func testListenerFromARustThreadUntilCancelled() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        let rec = Recorder()
        let sub = bert.store.subscribe(listener: rec)
        let own = try bert.store.createHelp(new: help("Eigen"))
        XCTAssertEqual(rec.ids, [own], "a local write notifies")
        // The same through the wrapper's stream (subscribed when it is made).
        let stream = bert.changes()
        let first = try ans.store.createHelp(new: help("Eerste"))
        let streamed = Task { () throws -> Bool in
            for await batch in stream where batch.contains(where: { $0.id == first }) { return true }
            return false
        }
        try await t.sync(ans, bert)
        XCTAssertTrue(rec.ids.contains(first), "the pulled change was not announced")
        XCTAssertTrue(rec.threads.contains("noaber-net"), "a pulled change is announced on a Rust thread: \(rec.threads)")
        let gotIt = try await outcome(of: streamed).get()
        XCTAssertTrue(gotIt, "the stream got the pulled change")
        sub.cancel()
        sub.cancel() // idempotent
        let n = rec.batches.count
        let second = try ans.store.createHelp(new: help("Tweede"))
        _ = try bert.store.createHelp(new: help("Nog een"))
        try await t.sync(ans, bert)
        XCTAssertTrue(try bert.store.list(query: ListQuery()).items.map(\.id).contains(second), "second not pulled")
        XCTAssertEqual(rec.batches.count, n, "no delivery after cancel()")
    }

    func testDroppingTheSubscriptionStopsDelivery() async throws {
        let t = try scope()
        defer { t.close() }
        let s = try t.store("drop")
        let rec = Recorder()
        var sub: Subscription? = s.subscribe(listener: rec)
        _ = try s.createHelp(new: help("Een"))
        XCTAssertNotNil(sub)
        sub = nil // deinit frees the Rust object, which stops delivery
        _ = try s.createHelp(new: help("Twee"))
        XCTAssertEqual(rec.batches.count, 1, "deliveries")
        // The wrapper's stream subscribes when it is made; a consumer that stops ends it.
        let n = Noaber(store: s)
        let stream = n.changes()
        let consumer = Task { () -> [String] in
            for await batch in stream { return batch.map(\.id) }
            return []
        }
        let third = try s.createHelp(new: help("Drie"))
        let delivered = try await outcome(of: Task { await consumer.value }).get()
        XCTAssertEqual(delivered, [third], "the stream delivered")
    }

    func testAListenerWhoseWorkFailsDoesNotBreakTheWrite() async throws {
        let t = try scope()
        defer { t.close() }
        let s = try t.store("broken")
        let listener = Thrower(store: s)
        let sub = s.subscribe(listener: listener)
        let id = try s.createHelp(new: help("Toch opgeslagen"))
        XCTAssertEqual(try s.help(id: id).title, "Toch opgeslagen", "title")
        XCTAssertEqual(listener.calls, 1, "the listener ran, on the writing thread, without a lock held")
        sub.cancel()
    }

    // MARK: - Sync

    func testTwoStoresSyncThroughARealRelay() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        XCTAssertEqual(try ans.store.buurten().map(\.id), [t.relay.buurt], "buurten")
        XCTAssertEqual(ans.store.activeBuurt(), t.relay.buurt, "active")
        // The sync status stream: now, after a local write, after a sync.
        var statuses = ans.syncStatusUpdates(buurtId: t.relay.buurt).makeAsyncIterator()
        let initial = await statuses.next()
        XCTAssertEqual(initial?.pending, 0, "status: nothing waits")
        let (id, outcome) = try await ans.saveThenSync(buurtId: t.relay.buurt) {
            try $0.createHelp(new: help("Lift naar het ziekenhuis", "transport"))
        }
        guard case .synced(let pushed) = outcome else { return XCTFail("not synced: \(outcome)") }
        XCTAssertEqual(pushed.accepted, 1, "pushed")
        XCTAssertEqual(pushed.rejected, [], "none rejected")
        var last = await statuses.next()
        while last?.pending != 0 || last?.lastSyncAt == nil { last = await statuses.next() }
        XCTAssertEqual(last?.failures, 0, "status after the sync")
        // The raw API with an explicit handle.
        let pulled = try await bert.store.sync(buurtId: t.relay.buurt, cancel: CancelHandle())
        XCTAssertGreaterThanOrEqual(pulled.applied, 1, "nothing applied")
        XCTAssertEqual(try bert.store.help(id: id).title, "Lift naar het ziekenhuis", "title on the other device")
        let status = try bert.store.syncStatus(buurtId: t.relay.buurt)
        XCTAssertEqual(status.pending, 0, "pending")
        XCTAssertEqual(status.failures, 0, "failures")
        XCTAssertNil(status.lastError, "last error")
        XCTAssertNotNil(status.lastSyncAt, "no last sync")
        try bert.store.setActiveBuurt(buurtId: t.relay.buurt)
        try bert.store.leaveBuurt(buurtId: t.relay.buurt)
        XCTAssertEqual(try bert.store.buurten(), [], "left")
        XCTAssertEqual(try bert.store.list(query: ListQuery()).items, [], "data removed")
        // A status stream for a buurt the device left ends at once.
        var gone = bert.syncStatusUpdates(buurtId: t.relay.buurt).makeAsyncIterator()
        let none = await gone.next()
        XCTAssertNil(none, "no status for a buurt left")
    }

    func testLiveSyncPullsAndStopsWhenTheConsumerStops() async throws {
        let t = try scope()
        defer { t.close() }
        let ans = try await t.member("ans", "resident")
        let bert = try await t.member("bert", "resident")
        let firstRound = DispatchSemaphore(value: 0)
        let wanted = ResultBox<String>() // the id the live sync should bring
        let liveTask = Task { () -> [LiveSyncEvent] in
            var events: [LiveSyncEvent] = []
            for try await event in bert.liveSync(buurtId: t.relay.buurt) {
                events.append(event)
                if events.count == 1 { firstRound.signal() }
                // Stop consuming once a round brought the new request (the first rounds pull
                // what earlier tests left in the shared buurt).
                if case .synced(let report) = event, report.applied > 0,
                   case .success(let id)? = wanted.get(), (try? bert.store.help(id: id)) != nil {
                    break
                }
            }
            return events
        }
        await assertSignalled(firstRound, "live sync never synced")
        let id = try ans.store.createHelp(new: help("Live"))
        wanted.set(.success(id))
        try await t.sync(ans)
        let events = try await outcome(of: liveTask).get()
        XCTAssertTrue(events.allSatisfy { if case .synced = $0 { true } else { false } }, "errors: \(events)")
        XCTAssertEqual(try bert.store.help(id: id).title, "Live", "pulled by the live sync")
        // The raw API: syncLive returns normally once its handle is cancelled.
        let cancel = CancelHandle()
        let rec = RawSyncRecorder()
        let raw = Task { try await bert.store.syncLive(buurtId: t.relay.buurt, listener: rec, cancel: cancel) }
        await assertSignalled(rec.first, "raw live sync never synced")
        cancel.cancel()
        try await outcome(of: raw).get()
        XCTAssertTrue(cancel.isCancelled(), "handle not cancelled")
    }

    /// Against a relay that never answers: the sync is stopped by its handle (raw API) and by
    /// cancelling the Swift task (wrapper), and each time the relay sees the connection close,
    /// which shows the Rust task really stopped.
    func testCancellingASyncWaitingOnTheNetworkDropsItsConnection() async throws {
        let t = try scope()
        defer { t.close() }
        let silent = try SilentRelay()
        defer { silent.stop() }
        let n = try await t.noaber("silent")
        let b = try await n.join(relayUrl: "http://127.0.0.1:\(silent.port)", invite: "AAAA-BBBB-CCCC", displayName: "Stil")
        XCTAssertEqual(b.member, silent.member, "member from the join answer")

        let cancel = CancelHandle()
        let sync = Task { try await n.store.sync(buurtId: b.id, cancel: cancel) }
        await assertSignalled(silent.gotSync, "the sync never reached the relay")
        cancel.cancel()
        switch try await outcome(of: sync) {
        case .failure(NoaberError.Cancelled): break
        case let other: XCTFail("expected Cancelled, got \(other)")
        }
        await assertSignalled(silent.hungUp, "the cancelled sync did not hang up")
        await assertNoaberErrorAsync({ _ = try await n.store.sync(buurtId: b.id, cancel: cancel) }) {
            if case .Cancelled = $0 { true } else { false }
        }

        // Cancelling the Swift task alone does not drop the Rust future; the wrapper's
        // withTaskCancellationHandler cancels the handle, which does.
        let task = Task { try await n.sync(buurtId: b.id) }
        await assertSignalled(silent.gotSync, "the sync never reached the relay")
        task.cancel()
        switch try await outcome(of: task) {
        case .failure(is CancellationError): break
        case let other: XCTFail("expected CancellationError, got \(other)")
        }
        await assertSignalled(silent.hungUp, "a cancelled task did not hang up")
    }
}

/// Records a raw live sync's rounds.
final class RawSyncRecorder: SyncListener, @unchecked Sendable {
    let first = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var started = false

    func onSynced(report: SyncReport) {
        lock.lock()
        defer { lock.unlock() }
        if !started {
            started = true
            first.signal()
        }
    }

    func onSyncFailed(error: NoaberError) {}
}
