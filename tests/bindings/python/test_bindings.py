"""The Python binding tests: the generated `noaber_ffi` module against libnoaber_ffi and a real
relay. Run by scripts/test-bindings.sh, which puts the generated module and the library on
PYTHONPATH and names the relay binary in NOABER_RELAY_BIN. Prints `python: N passed, M failed`.
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

import noaber_ffi as nf

RELAY_BIN = os.environ.get("NOABER_RELAY_BIN", "target/debug/noaber-relay")
WAIT = 30  # seconds; only an upper bound for things that normally take milliseconds
# A camera-like JPEG: EXIF with a GPS position, a serial number and the owner's name.
CAMERA_JPG = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "fixtures", "photos", "camera.jpg")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, WAIT))


class Relay:
    """A real `noaber-relay serve` on a free port, with a temporary data folder."""

    def __init__(self):
        self.data = tempfile.mkdtemp(prefix="noaber-relay-")
        env = dict(os.environ, NOABER_RELAY_JOIN_BURST="1000", RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [RELAY_BIN, "serve", "--data", self.data, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"relay did not start: {line!r}")
        self.url = "http://" + line[len("listening on "):]
        created = self.admin("create-buurt", "De Linde")
        self.buurt = created["buurt_id"]
        self.first_organiser = created["organiser_invite"]

    def admin(self, *args):
        out = subprocess.run([RELAY_BIN, "admin", *args, "--data", self.data],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def invite(self, role, uses=20):
        return self.admin("invite", "--buurt", self.buurt, "--role", role,
                          "--uses", str(uses))["code"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.data, ignore_errors=True)


class Recorder(nf.ChangeListener):
    """Records every notification and the thread it came on."""

    def __init__(self):
        self.batches = []
        self.threads = set()
        self.lock = threading.Lock()
        self.event = threading.Event()

    def on_change(self, changed):
        with self.lock:
            self.batches.append(changed)
            self.threads.add(threading.get_ident())
        self.event.set()

    def ids(self):
        with self.lock:
            return {c.id for batch in self.batches for c in batch}


class SyncRecorder(nf.SyncListener):
    def __init__(self):
        self.reports = []
        self.errors = []
        self.first = threading.Event()
        self.pulled = threading.Event()
        # Set once a sync report arrives while `watch()` holds: a test waits for the round
        # that brought a particular change, not for any round that pulled something (the
        # shared test buurt's earlier data arrives in the first round).
        self.watch = None
        self.seen = threading.Event()

    def on_synced(self, report):
        self.reports.append(report)
        self.first.set()
        if report.applied > 0:
            self.pulled.set()
        if self.watch is not None and self.watch():
            self.seen.set()

    def on_sync_failed(self, error):
        self.errors.append(error)


class Base(unittest.TestCase):
    relay = None

    @classmethod
    def setUpClass(cls):
        cls.relay = Relay()
        cls.invites = {
            "resident": cls.relay.invite("resident", 50),
            "organiser": cls.relay.invite("organiser", 20),
            "caretaker": cls.relay.invite("caretaker", 20),
        }

    @classmethod
    def tearDownClass(cls):
        cls.relay.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="noaber-py-")
        self.stores = []

    def tearDown(self):
        self.stores.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def store(self, name):
        s = nf.NoaberStore.open(os.path.join(self.dir, name + ".db"))
        self.stores.append(s)
        return s

    def member(self, name, role):
        """A store joined to the test buurt with an invite for `role`."""
        s = self.store(name)
        b = run(s.join(self.relay.url, self.invites[role], name, None))
        self.assertEqual(b.id, self.relay.buurt)
        self.assertEqual(s.identity().role, getattr(nf.Role, role.upper()))
        return s

    def sync(self, *stores):
        reports = []
        for s in stores:
            reports.append(run(s.sync(self.relay.buurt, None)))
        return reports


class Journeys(Base):
    def test_help_resident_asks_neighbour_responds_organiser_matches(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        org = self.member("fatima", "organiser")
        hid = ans.create_help(nf.NewHelp(category="groceries", title="Boodschappen dinsdag",
                                         precision="stairwell", location_label="Portiek 12"))
        self.assertEqual(ans.help(hid).status, nf.HelpStatus.OPEN)
        pushed, pulled = self.sync(ans, bert)
        self.assertEqual(pushed.accepted, 1)
        self.assertGreaterEqual(pulled.applied, 1)
        page = bert.list(nf.ListQuery(kind=nf.Kind.HELP, needs_response=True))
        self.assertEqual([s.id for s in page.items], [hid])
        bert.respond_help(hid, "Ik kan dinsdag")
        self.sync(bert, org)
        view = org.help(hid)
        self.assertEqual([r.member for r in view.responses], [bert.identity().member])
        org.match_help(hid, bert.identity().member)
        self.assertEqual(org.help(hid).status, nf.HelpStatus.MATCHED)
        self.sync(org, ans)
        view = ans.help(hid)
        self.assertEqual(view.status, nf.HelpStatus.MATCHED)
        self.assertEqual(view.helper, bert.identity().member)
        self.assertEqual(view.matched_by, org.identity().member)
        ans.complete_help(hid)
        ans.thank_help(hid, "Dank je wel!")
        view = ans.help(hid)
        self.assertEqual(view.status, nf.HelpStatus.DONE)
        self.assertEqual([t.text for t in view.thanks], ["Dank je wel!"])
        # comments travel too
        cid = bert.add_comment(hid, "Graag gedaan")
        self.sync(bert, ans)
        comments = ans.comments(hid)
        self.assertEqual([(c.id, c.body) for c in comments], [(cid, "Graag gedaan")])
        bert.edit_comment(hid, cid, "Graag gedaan, tot volgende keer")
        bert.withdraw_comment(hid, cid)
        self.assertTrue(bert.comments(hid)[0].withdrawn)
        # the neighbour's list shows it done; search finds it by a word of the comment
        self.sync(bert)
        found = bert.list(nf.ListQuery(text="boodschap"))
        self.assertEqual([s.id for s in found.items], [hid])
        self.assertEqual(found.items[0].status, "done")

    def test_event_with_rsvp_waitlist_and_shifts(self):
        org = self.member("organiser", "organiser")
        ans = self.member("ans", "resident")
        start = org.now_ms() + 7 * 86_400_000
        eid = org.create_event(nf.NewEvent(title="Buurtbarbecue", starts_at=start,
                                           ends_at=start + 4 * 3_600_000, place="Binnentuin",
                                           capacity=1))
        role = org.add_event_role(eid, "Opbouw", "tafels en stoelen")
        shift = org.add_event_shift(eid, role, start - 3_600_000, start, 1)
        self.assertEqual(org.rsvp_event(eid, nf.Rsvp.GOING), nf.Attendance.GOING(place=1))
        self.sync(org, ans)
        # the only place is taken: ans is waitlisted, told so by the returned attendance
        self.assertEqual(ans.rsvp_event(eid, nf.Rsvp.GOING), nf.Attendance.WAITLISTED(position=1))
        self.assertEqual(ans.signup_shift(eid, shift), nf.ShiftSlot.ON())
        view = ans.event(eid)
        self.assertEqual(view.my_attendance, nf.Attendance.WAITLISTED(position=1))
        self.assertEqual(view.shifts[0].my_slot, nf.ShiftSlot.ON())
        self.assertEqual((view.shifts_needed, view.shifts_filled), (1, 1))
        # the organiser declines: after a sync, ans has the place
        org.rsvp_event(eid, nf.Rsvp.DECLINED)
        self.sync(org, ans)
        self.assertEqual(ans.event(eid).my_attendance, nf.Attendance.GOING(place=1))
        org.edit_event(eid, nf.EventEdit(capacity=nf.CapacityChange.UNLIMITED(),
                                         point=nf.PointChange.SET(nf.GeoPoint(lat=52.09, lon=5.12))))
        view = org.event(eid)
        self.assertIsNone(view.capacity)
        self.assertEqual(view.point, nf.GeoPoint(lat=52.09, lon=5.12))
        upcoming = ans.list(nf.ListQuery(kind=nf.Kind.EVENT, order=nf.ListOrder.UPCOMING))
        self.assertEqual([s.id for s in upcoming.items], [eid])
        org.cancel_event(eid, "regen")
        self.assertEqual(org.event(eid).status, nf.EventStatus.CANCELLED)

    def test_task_adopted_backed_up_and_recorded(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        tid = ans.create_task(nf.NewTask(title="Binnentuin water geven",
                                         rrule="FREQ=DAILY", dtstart="2026-01-01"))
        self.assertEqual(ans.task(tid).status, nf.TaskStatus.UNADOPTED)
        self.assertEqual(ans.task(tid).my_standing, nf.TaskStanding.NOT_IN())
        self.assertEqual(ans.claim_task(tid), nf.TaskStanding.ADOPTER())
        self.sync(ans, bert)
        self.assertEqual(bert.claim_task(tid), nf.TaskStanding.BACKUP(position=1))
        view = bert.task(tid)
        self.assertEqual(view.my_standing, nf.TaskStanding.BACKUP(position=1))
        self.assertEqual(view.adopter, ans.identity().member)
        self.assertEqual(view.backups, [bert.identity().member])
        self.assertEqual(view.status, nf.TaskStatus.ACTIVE)
        day = view.current_occurrence
        self.assertIsNotNone(day)
        bert.record_occurrence(tid, day, nf.Outcome.DONE, "flink gegoten")
        item = bert.add_checklist_item(tid, "gieter vullen")
        view = bert.task(tid)
        self.assertEqual(view.occurrences[0].date, day)
        self.assertEqual(view.occurrences[0].outcome, nf.Outcome.DONE)
        self.assertEqual([c.id for c in view.checklist], [item])
        bert.remove_checklist_item(tid, item)
        self.sync(bert, ans)
        ans.pause_task(tid)
        self.assertEqual(ans.task(tid).status, nf.TaskStatus.PAUSED)
        ans.resume_task(tid)
        ans.release_task(tid)
        self.assertEqual(ans.task(tid).adopter, bert.identity().member)
        mine = bert.list(nf.ListQuery(kind=nf.Kind.TASK, mine=True))
        self.assertEqual([s.id for s in mine.items], [tid])
        pledge = ans.create_task(nf.NewTask(title="Bankje schilderen", pledge_target=2))
        ans.pledge_task(pledge)
        self.assertEqual(ans.task(pledge).status, nf.TaskStatus.PLEDGING)
        ans.unpledge_task(pledge)

    def test_report_created_offline_and_worked_through(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        care = self.member("caretaker", "caretaker")
        rid = ans.create_report(nf.NewReport(category="lighting", lat=52.0907, lon=5.1214,
                                             floor="kelder", severity="high",
                                             description="Lamp kapot"))
        self.assertEqual(ans.sync_status(self.relay.buurt).pending, 1, "waits to sync")
        [row] = [r for r in ans.list(nf.ListQuery(kind=nf.Kind.REPORT, mine=True)).items if r.id == rid]
        self.assertTrue(row.unsynced, "not sent yet")
        self.sync(ans, bert, care)
        [row] = [r for r in ans.list(nf.ListQuery(kind=nf.Kind.REPORT, mine=True)).items if r.id == rid]
        self.assertFalse(row.unsynced, "sent")
        self.assertEqual(ans.sync_status(self.relay.buurt).pending, 0)
        bert.me_too_report(rid)
        care.transition_report(rid, nf.ReportTransition.ACKNOWLEDGE())
        care.set_report_responsible(rid, "Gemeente")
        care.set_report_response(rid, "We komen donderdag")
        care.transition_report(rid, nf.ReportTransition.RESOLVE())
        self.sync(bert, care, ans)
        view = ans.report(rid)
        self.assertEqual(view.status, nf.ReportStatus.RESOLVED)
        self.assertEqual([t.to for t in view.timeline],
                         [nf.ReportStatus.ACKNOWLEDGED, nf.ReportStatus.RESOLVED])
        self.assertEqual(view.timeline[0].role, nf.Role.CARETAKER)
        self.assertEqual([m.member for m in view.me_too], [bert.identity().member])
        self.assertEqual((view.responsible, view.response), ("Gemeente", "We komen donderdag"))
        self.assertEqual(view.title, "Lamp kapot")
        ans.attach_photo_file(rid, CAMERA_JPG)
        ans.transition_report(rid, nf.ReportTransition.CONFIRM())
        view = ans.report(rid)
        self.assertEqual(view.status, nf.ReportStatus.CONFIRMED)
        self.assertEqual(len(view.photos), 1)
        inside = ans.list(nf.ListQuery(kind=nf.Kind.REPORT,
                                       bbox=nf.BBox(south=52.08, west=5.11, north=52.10, east=5.13)))
        self.assertEqual([s.id for s in inside.items], [rid])

    def test_photo_taken_offline_arrives_on_another_device_without_metadata(self):
        care = self.member("caretaker", "caretaker")
        ans = self.member("ans", "resident")
        rid = care.create_report(nf.NewReport(category="lighting", lat=52.2001, lon=5.3001))
        ref = care.attach_photo_file(rid, CAMERA_JPG)
        self.assertEqual((ref.mime, ref.width, ref.height), ("image/jpeg", 96, 64))
        held = care.photo(ref.hash)
        for secret in (b"SN-HOME-4242", b"Ans de Vries", b"GPS", b"xmpmeta"):
            self.assertNotIn(secret, held.bytes)
        self.assertEqual(len(held.bytes), ref.size)
        [queued] = [u for u in care.photo_uploads() if u.hash == ref.hash]
        self.assertEqual((queued.state, queued.sent), (nf.UploadState.PENDING, 0))
        with self.assertRaises(nf.NoaberError.InvalidInput) as bad:
            care.attach_photo(rid, b"GIF89a not a photo")
        self.assertEqual(bad.exception.field, "photo")

        # The report syncs first; until the photo is uploaded the neighbour sees it pending.
        self.sync(care, ans)
        self.assertEqual([p.photo.hash for p in ans.report(rid).photos], [ref.hash])
        self.assertIsNone(ans.photo(ref.hash))
        self.assertIsNone(run(ans.fetch_photo(self.relay.buurt, ref.hash, None)))

        class Progress(nf.UploadListener):
            def __init__(self):
                self.seen = []

            def on_progress(self, hash, entity_id, sent, total):
                self.seen.append((hash, entity_id, sent, total))

        progress = Progress()
        report = run(care.upload_photos(self.relay.buurt, progress, None))
        self.assertEqual((report.completed, report.rejected, report.waiting), (1, 0, 0))
        self.assertEqual(progress.seen[-1], (ref.hash, rid, ref.size, ref.size))
        [done] = [u for u in care.photo_uploads() if u.hash == ref.hash]
        self.assertEqual(done.state, nf.UploadState.DONE)

        got = run(ans.fetch_photo(self.relay.buurt, ref.hash, None))
        self.assertEqual((got.bytes, got.mime), (held.bytes, "image/jpeg"))
        self.assertEqual(ans.photo(ref.hash).bytes, held.bytes)

    def test_profile_identity_lists_and_counts(self):
        s = self.store("solo")
        me = s.set_identity(nf.Role.ORGANISER, "Fatima", "Complex 4")
        self.assertEqual((me.role, me.display_name, me.household),
                         (nf.Role.ORGANISER, "Fatima", "Complex 4"))
        self.assertIsNone(s.my_profile())
        pid = s.create_profile(nf.NewProfile(display_name="Fatima", skills=["fietsen"]))
        s.add_skill(pid, "Turks")
        s.remove_skill(pid, "fietsen")
        s.edit_profile(pid, nf.ProfileEdit(availability="woensdagmiddag"))
        p = s.my_profile()
        self.assertEqual((p.id, p.skills, p.availability), (pid, ["Turks"], "woensdagmiddag"))
        ids = [s.create_help(nf.NewHelp(category="company", title=f"Koffie {i}")) for i in range(5)]
        seen, after = [], None
        while True:
            page = s.list(nf.ListQuery(kind=nf.Kind.HELP, limit=2, after=after))
            seen += [x.id for x in page.items]
            after = page.next
            if after is None:
                break
        self.assertEqual(sorted(seen), sorted(ids))
        counts = {(c.kind, c.status): c.count for c in s.status_counts()}
        self.assertEqual(counts[(nf.Kind.HELP, "open")], 5)
        self.assertEqual(s.kind_of(ids[0]), nf.Kind.HELP)
        self.assertEqual(s.pending_count(), 9)  # 4 profile changes, 5 requests
        self.assertEqual(s.my_notices(), [])
        self.assertEqual(s.rebuild_projections(), 6)
        detail = page.items[0].detail
        self.assertIsInstance(detail, nf.Detail.HELP)
        self.assertEqual((detail.mode, detail.responses, detail.helper), ("ask", 0, None))


class Errors(Base):
    def test_invalid_input_names_the_field(self):
        s = self.store("errors")
        with self.assertRaises(nf.NoaberError.InvalidInput) as e:
            s.create_help(nf.NewHelp(category="groceries", title=""))
        self.assertEqual(e.exception.field, "title")
        with self.assertRaises(nf.NoaberError.InvalidInput) as e:
            s.help("not-an-id")
        self.assertEqual(e.exception.field, "id")
        with self.assertRaises(nf.NoaberError.InvalidInput) as e:
            s.list(nf.ListQuery(limit=501))
        self.assertEqual(e.exception.field, "limit")
        # An id inside an argument (the core's `EntityId`) is checked as it crosses, the same way.
        with self.assertRaises(nf.NoaberError.InvalidInput) as e:
            s.transition_report(
                "0123456789abcdef0123456789abcdef", nf.ReportTransition.DUPLICATE("not-an-id")
            )
        self.assertEqual(e.exception.field, "id")

    def test_not_found_and_not_allowed(self):
        s = self.store("errors")
        with self.assertRaises(nf.NoaberError.NotFound) as e:
            s.help("0123456789abcdef0123456789abcdef")
        self.assertEqual(e.exception.id, "0123456789abcdef0123456789abcdef")
        with self.assertRaises(nf.NoaberError.NotAllowed) as e:
            s.create_event(nf.NewEvent(title="Feest", starts_at=0, ends_at=1, place="Hier"))
        self.assertIn("resident", e.exception.reason)
        hid = s.create_help(nf.NewHelp(category="groceries", title="Brood"))
        s.cancel_help(hid, "")
        with self.assertRaises(nf.NoaberError.NotAllowed):
            s.complete_help(hid)
        with self.assertRaises(nf.NoaberError.NotFound):
            s.sync_status("0123456789abcdef0123456789abcdef")

    def test_relay_refusal_and_offline(self):
        s = self.store("errors")
        with self.assertRaises(nf.NoaberError.Rejected) as e:
            run(s.join(self.relay.url, "AAAA-BBBB-CCCC", "Iemand", None))
        self.assertEqual(e.exception.code, "invite_invalid")
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        with self.assertRaises(nf.NoaberError.Network):
            run(s.join(f"http://127.0.0.1:{port}", "AAAA-BBBB-CCCC", "Iemand", None))


class Listeners(Base):
    def test_listener_called_from_a_rust_thread_until_cancelled(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        rec = Recorder()
        sub = bert.subscribe(rec)
        # a local write notifies on the writing thread
        own = bert.create_help(nf.NewHelp(category="other", title="Eigen"))
        self.assertEqual(rec.ids(), {own})
        # a sync applies pulled changes on a Rust thread of the library's runtime
        first = ans.create_help(nf.NewHelp(category="other", title="Eerste"))
        self.sync(ans, bert)
        self.assertIn(first, rec.ids())
        self.assertTrue(any(t != threading.get_ident() for t in rec.threads),
                        "a pulled change is announced on a Rust thread")
        sub.cancel()
        sub.cancel()  # idempotent
        n = len(rec.batches)
        second = ans.create_help(nf.NewHelp(category="other", title="Tweede"))
        bert.create_help(nf.NewHelp(category="other", title="Nog een"))
        self.sync(ans, bert)
        self.assertIn(second, {x.id for x in bert.list(nf.ListQuery()).items})
        self.assertEqual(len(rec.batches), n, "no delivery after cancel()")

    def test_dropping_the_subscription_stops_delivery(self):
        s = self.store("drop")
        rec = Recorder()
        sub = s.subscribe(rec)
        s.create_help(nf.NewHelp(category="other", title="Een"))
        del sub
        s.create_help(nf.NewHelp(category="other", title="Twee"))
        self.assertEqual(len(rec.batches), 1)

    def test_a_failing_listener_does_not_break_the_write(self):
        class Broken(nf.ChangeListener):
            def on_change(self, changed):
                raise RuntimeError("app bug")
        s = self.store("broken")
        sub = s.subscribe(Broken())
        hid = s.create_help(nf.NewHelp(category="other", title="Toch opgeslagen"))
        self.assertEqual(s.help(hid).title, "Toch opgeslagen")
        sub.cancel()


class Sync(Base):
    def test_two_stores_sync_through_a_real_relay(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        self.assertEqual([b.id for b in ans.buurten()], [self.relay.buurt])
        self.assertEqual(ans.active_buurt(), self.relay.buurt)
        hid = ans.create_help(nf.NewHelp(category="transport", title="Lift naar het ziekenhuis"))
        report = run(ans.sync(self.relay.buurt, nf.CancelHandle()))
        self.assertEqual((report.accepted, report.rejected), (1, []))
        report = run(bert.sync(self.relay.buurt, None))
        self.assertGreaterEqual(report.applied, 1)
        self.assertEqual(bert.help(hid).title, "Lift naar het ziekenhuis")
        status = bert.sync_status(self.relay.buurt)
        self.assertEqual((status.pending, status.failures, status.last_error), (0, 0, None))
        self.assertIsNotNone(status.last_sync_at)
        bert.set_active_buurt(self.relay.buurt)
        bert.leave_buurt(self.relay.buurt)
        self.assertEqual(bert.buurten(), [])
        self.assertEqual(bert.list(nf.ListQuery()).items, [])

    def test_a_restricted_request_reaches_only_its_readers(self):
        ans = self.member("ans", "resident")
        kees = self.member("kees", "resident")
        org = self.member("fatima", "organiser")
        hid = ans.create_help(nf.NewHelp(category="paperwork", title="Brief van de bank",
                                         audience=nf.Audience.PARTICIPANTS))
        readers = ans.readers(hid)
        self.assertEqual(readers.audience, nf.Audience.PARTICIPANTS)
        self.assertEqual(readers.members, [ans.identity().member])
        self.sync(ans, kees, org)
        self.assertEqual(org.help(hid).title, "Brief van de bank")
        with self.assertRaises(nf.NoaberError.NotFound):
            kees.help(hid)
        # Shared by the organiser, the neighbour reads it from the next sync on.
        with self.assertRaises(nf.NoaberError.NotFound):
            kees.share(hid, kees.identity().member)
        org.share(hid, kees.identity().member)
        self.sync(org, kees)
        self.assertEqual(kees.help(hid).title, "Brief van de bank")
        # Only the creator or an organiser shares further.
        with self.assertRaises(nf.NoaberError.NotAllowed):
            kees.share(hid, org.identity().member)
        self.assertIn(kees.identity().member, kees.readers(hid).members)
        # A request for the whole buurt needs no sharing.
        open_id = ans.create_help(nf.NewHelp(category="groceries", title="Boodschappen"))
        with self.assertRaises(nf.NoaberError.InvalidInput) as e:
            ans.share(open_id, kees.identity().member)
        self.assertEqual(e.exception.field, "audience")

    def test_live_sync_pulls_when_the_log_moves_and_stops_on_cancel(self):
        ans = self.member("ans", "resident")
        bert = self.member("bert", "resident")
        rec = SyncRecorder()
        cancel = nf.CancelHandle()

        async def scenario():
            live = asyncio.ensure_future(bert.sync_live(self.relay.buurt, rec, cancel))
            loop = asyncio.get_running_loop()
            self.assertTrue(await loop.run_in_executor(None, rec.first.wait, WAIT))
            title = "Live " + os.urandom(4).hex()
            rec.watch = lambda: title in [x.title for x in bert.list(nf.ListQuery()).items]
            self.assertFalse(rec.watch())
            ans.create_help(nf.NewHelp(category="other", title=title))
            await ans.sync(self.relay.buurt, None)
            self.assertTrue(await loop.run_in_executor(None, rec.seen.wait, WAIT),
                            "the live connection pulled the change")
            self.assertFalse(live.done())
            cancel.cancel()
            await asyncio.wait_for(live, WAIT)  # returns normally once cancelled
        run(scenario())
        self.assertTrue(cancel.is_cancelled())
        self.assertEqual(rec.errors, [])
        self.assertTrue(rec.watch())

    def test_cancelling_a_sync_waiting_on_the_network_drops_its_connection(self):
        # A relay that answers the join and then never answers a sync; it notes when the
        # device hangs up, which shows the Rust task really stopped.
        got_sync = threading.Semaphore(0)
        hung_up = threading.Semaphore(0)
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        member = "ab" * 16

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                with conn:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        data += conn.recv(4096)
                    if data.startswith(b"POST /v1/join"):
                        body = json.dumps({"v": 1, "buurt": "cd" * 16, "buurt_name": "Stil",
                                           "member": member, "role": "resident",
                                           "device": "ef" * 16, "token": "t" * 64}).encode()
                        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                     b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                                     % (len(body), body))
                        continue
                    got_sync.release()
                    conn.settimeout(WAIT)
                    try:
                        while conn.recv(4096):
                            pass
                    except OSError:
                        continue
                    hung_up.release()

        server = threading.Thread(target=serve, daemon=True)
        server.start()
        try:
            s = self.store("silent")
            b = run(s.join(f"http://127.0.0.1:{port}", "AAAA-BBBB-CCCC", "Stil", None))
            self.assertEqual(b.member, member)
            cancel = nf.CancelHandle()

            async def with_handle():
                sync = asyncio.ensure_future(s.sync(b.id, cancel))
                loop = asyncio.get_running_loop()
                self.assertTrue(await loop.run_in_executor(None, got_sync.acquire, True, WAIT))
                self.assertFalse(sync.done())
                cancel.cancel()
                with self.assertRaises(nf.NoaberError.Cancelled):
                    await asyncio.wait_for(sync, WAIT)
            run(with_handle())
            self.assertTrue(hung_up.acquire(timeout=WAIT), "the cancelled sync hung up")
            # an already cancelled handle stops the next call at once
            with self.assertRaises(nf.NoaberError.Cancelled):
                run(s.sync(b.id, cancel))

            async def with_asyncio():
                sync = asyncio.ensure_future(s.sync(b.id, None))
                loop = asyncio.get_running_loop()
                self.assertTrue(await loop.run_in_executor(None, got_sync.acquire, True, WAIT))
                sync.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await sync
            run(with_asyncio())
            self.assertTrue(hung_up.acquire(timeout=WAIT), "a cancelled asyncio task hangs up too")
        finally:
            listener.close()
            server.join(WAIT)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    print(f"python: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
