"""The web console in a real browser (Debian's Chromium, headless) against the local cloud of the
real template, signed in through its login form: Cognito's refusals in its own words, a first
sign-in that must choose a new password, the token sent to each API as its authorizer wants it,
the form back when the API refuses the token, sign-out; PACS preview with windowing, a client
that survives a reload, a job whose result is pushed with its overlay, an image through the
grayscale pipeline, API errors as stated, and a result that is not lost when the WebSocket dies
mid-job (GET /jobs/{id}; the socket comes back with a fresh ticket)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import browser as support
from tests.support.api_aws import EVENTS
from tests.support.image_samples import photo_jpeg
from tests.support.users import StackUser, Users
from tests.support.video_samples import put_frame_outputs
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
ALGORITHM = "processing_1"


@pytest.fixture(scope="session")
def console_stack(stack: Any, pacs: list[Any]) -> support.ConsoleStack:
    return support.console_stack(stack, pacs)


@pytest.fixture(scope="module")
def user(new_user: Callable[..., StackUser]) -> StackUser:
    """The console's own user: its clients and jobs count against no other module's limits."""
    return new_user("console")


@pytest.fixture(scope="session")
def browser(console_stack: support.ConsoleStack) -> Iterator[Any]:
    yield from support.browser_fixture()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    yield from support.page_fixture(request, browser)


def provision(page: Any) -> str:
    page.click("#provision")
    page.wait_for_selector("#socket-state[data-state=open]")
    return str(page.text_content("#client-id"))


def submit_job(page: Any) -> str:
    page.select_option("#algorithm", ALGORITHM)
    page.click("#submit-job")
    job = page.locator("#jobs > li").first
    job.wait_for()
    return str(job.get_attribute("data-job-id"))


def job_item(page: Any, job_id: str) -> Any:
    return page.locator(f"#jobs > li[data-job-id='{job_id}']")


def test_a_refused_sign_in_shows_cognitos_words_then_the_user_gets_in_and_out(
    page, console_stack, user
):
    # Given the console, signed out
    page.goto(console_stack.url)
    page.wait_for_selector("body[data-ready=login]")
    assert page.locator("main").is_hidden()

    # When a wrong password is tried
    support.sign_in(page, user.username, "Wrong-password-1!")

    # Then Cognito's refusal is shown as Cognito states it, and nothing of the console shows
    error = page.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == "NotAuthorizedException: Incorrect username or password."
    assert page.locator("main").is_hidden()

    # When the right password is given, the console opens as that user, the REST API gets the
    # raw ID token and the PACS (HTTP API) a Bearer token
    with (
        page.expect_request(
            lambda r: r.method == "GET" and r.url.endswith("/algorithms")
        ) as rest_call,
        page.expect_request(
            lambda r: r.method == "GET" and r.url.endswith("/pacs/studies")
        ) as pacs_call,
    ):
        support.sign_in(page, user.username, user.password)
        page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#whoami") == f"signed in as {user.username}"
    rest_token = rest_call.value.headers["authorization"]
    assert rest_token.count(".") == 2
    assert pacs_call.value.headers["authorization"] == f"Bearer {rest_token}"
    # And the PACS is asked for DICOM JSON (QIDO-RS), not the old project JSON
    assert pacs_call.value.headers["accept"] == "application/dicom+json"
    # And the tokens are in this tab's sessionStorage only, never in localStorage
    local = page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    session = page.evaluate("JSON.stringify(Object.assign({}, sessionStorage))")
    assert rest_token not in local
    assert rest_token in session
    assert user.password not in local + session

    # When the user signs out, the form is back and the session is gone
    page.click("#logout")
    page.wait_for_selector("body[data-ready=login]")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_first_sign_in_asks_for_a_new_password(page, console_stack):
    # Given a user an operator created with a temporary password (FORCE_CHANGE_PASSWORD)
    cognito = console_stack.cloud.client("cognito-idp")
    username = "first-timer"
    cognito.admin_create_user(
        UserPoolId=console_stack.cloud.outputs["UserPoolId"],
        Username=username,
        TemporaryPassword="Temp-Pass-1234!",
        MessageAction="SUPPRESS",
    )
    page.goto(console_stack.url)

    # When they sign in with it, the form says a new password is needed and asks for one
    support.sign_in(page, username, "Temp-Pass-1234!")
    page.wait_for_selector("#login-challenge", state="visible")
    assert "NEW_PASSWORD_REQUIRED" in page.inner_text("#login-challenge-text")
    page.fill("#login-challenge-value", "Chosen-Pass-5678!")
    page.click("#login-submit")

    # Then they are in, and Cognito holds the new password
    page.wait_for_selector("body[data-ready=true]")
    user = cognito.admin_get_user(
        UserPoolId=console_stack.cloud.outputs["UserPoolId"], Username=username
    )
    assert user["UserStatus"] == "CONFIRMED"


def test_a_token_the_api_refuses_brings_the_sign_in_form_back(page, console_stack, user):
    # Given a signed-in console whose REST API starts refusing its token
    support.open_console(page, console_stack, user)
    page.click("#tabs button[data-tab=video]")
    refused = json.dumps({"message": "Unauthorized"})
    page.route(
        "**/videos",
        lambda route: route.fulfill(status=401, body=refused, content_type="application/json"),
    )

    # When the page calls it
    page.click("#video-refresh")

    # Then the sign-in form is back, saying why, with the user's name filled in
    page.wait_for_selector("#login-form", state="visible")
    assert "GET /videos -> 401: Unauthorized" in page.inner_text("#login-reason")
    assert page.input_value("#login-username") == user.username

    # And once signed in again, the console carries on
    page.unroute("**/videos")
    page.fill("#login-password", user.password)
    page.click("#login-submit")
    page.wait_for_selector("#login", state="hidden")
    page.click("#video-refresh")
    page.wait_for_selector("#video-list li")


def test_dicom_instance_preview_follows_the_window_controls(page, console_stack, user):
    # Given the console
    support.open_console(page, console_stack, user)
    ct = console_stack.instance("CT_small.dcm")

    # Then the study list shows what each study is (QIDO-RS): description, date, modalities
    # and counts, not bare UIDs, and nothing about the patient
    study = support.study_button(page, ct.study_id)
    label = study.inner_text()
    assert label.startswith("e+1 · 2004-01-19 · CT")
    assert "series" in label
    assert "instance" in label
    assert ct.study_id not in label
    assert "CompressedSamples" not in page.content()  # CT_small's patient name

    # When a CT instance is picked in the PACS browser
    support.pick_instance(page, console_stack, "CT_small.dcm")

    # Then its metadata (WADO-RS, DICOM JSON) and a rendered preview of its real size are shown
    assert page.locator("#metadata tr", has_text="Modality").inner_text().split()[-1] == "CT"
    assert page.locator("#metadata tr", has_text="Rows").inner_text().split()[-1] == "128"
    assert page.eval_on_selector("#preview", "img => img.naturalWidth") == 128
    assert "CompressedSamples" not in page.content()
    before = page.locator("#preview").screenshot()

    # And a new window re-renders it through the PACS with exactly those values (PS3.18)
    page.fill("#window-center", "40")
    page.fill("#window-width", "80")
    with page.expect_response(lambda r: r.url.endswith("/rendered?window=40,80")) as rendered:
        page.click("#window-apply")
    assert rendered.value.status == 200
    page.wait_for_selector("#preview[data-state=ready][data-window='40/80']")
    assert page.locator("#preview").screenshot() != before


def test_client_survives_a_reload_and_a_job_result_is_pushed_with_its_overlay(
    page, console_stack, user
):
    # Given a provisioned push client
    support.open_console(page, console_stack, user)
    client_id = provision(page)

    # When the page is reloaded, it keeps the session and the client and reconnects (with a
    # fresh ticket: the first one was used up)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#socket-state[data-state=open]")
    assert page.text_content("#client-id") == client_id

    # And a job is submitted for a picked instance
    support.pick_instance(page, console_stack, "CT_small.dcm")
    job_id = submit_job(page)

    # Then its DONE result arrives over the WebSocket, with a loaded overlay and measurements
    job = job_item(page, job_id)
    job.locator(".status[data-status=DONE]").wait_for(timeout=60_000)
    assert job.get_attribute("data-source") == "push"
    overlay = job.locator("img.overlay")
    wait_for(lambda: overlay.evaluate("img => img.complete && img.naturalWidth"), what="overlay")
    assert overlay.evaluate("img => img.naturalWidth") == 128
    assert job.locator(".measurements tr").count() > 0
    ct = console_stack.instance("CT_small.dcm")
    assert job.locator(".result-images figcaption").inner_text().endswith(ct.instance_id)

    # And its DICOM SEG is named, and can be found in the source study
    seg = job.locator(".seg")
    seg_series = str(seg.get_attribute("data-seg-series"))
    seg_instance = str(seg.get_attribute("data-seg-instance"))
    assert seg_series in seg.inner_text()
    assert seg_instance in seg.inner_text()
    seg.locator("button.seg-find").click()
    page.wait_for_selector(f"#series button[data-uid='{seg_series}'][aria-pressed=true]")
    page.wait_for_selector(f"#instances button[data-uid='{seg_instance}'][aria-pressed=true]")
    page.wait_for_selector("#instance-view[data-modality=SEG]")
    assert page.inner_text("#instance-id") == seg_instance
    assert "SEG" in page.locator(f"#series button[data-uid='{seg_series}']").inner_text()

    # And the SEG, decoded in the browser (WADO-RS frames), is drawn on its source instance
    seg.locator("button.seg-show").click()
    overlay_layer = page.locator("#seg-overlay[data-state=ready]")
    overlay_layer.wait_for()
    assert overlay_layer.get_attribute("data-seg") == seg_instance
    assert overlay_layer.get_attribute("data-source") == ct.instance_id
    assert int(str(overlay_layer.get_attribute("data-pixels"))) > 0
    assert overlay_layer.evaluate("c => [c.width, c.height]") == [128, 128]
    assert page.inner_text("#instance-id") == ct.instance_id
    page.wait_for_selector("#preview[data-state=ready]")


def test_an_uploaded_photo_shows_its_grayscale_result_and_stage_timings(page, console_stack, user):
    # Given the images screen
    support.open_console(page, console_stack, user)
    page.click("#tabs button[data-tab=images]")

    # When a real photo is uploaded through the page
    page.set_input_files(
        "#image-file", {"name": "bus.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}
    )
    page.click("#image-upload")

    # Then the grayscale output of the same size appears, with every stage's timing
    item = page.locator("#images > li").first
    item.locator(".status[data-status=done]").wait_for(timeout=90_000)
    output = item.locator("img.output")
    wait_for(lambda: output.evaluate("img => img.complete && img.naturalWidth"), what="output")
    assert output.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [810, 1080]
    # (the page keeps reading until the task's result, with the timings, follows its output)
    item.locator(".timings tr").first.wait_for(timeout=30_000)
    stages = item.locator(".timings tr").evaluate_all("rows => rows.map(r => r.dataset.stage)")
    assert stages[:5] == ["download", "decode", "convert", "encode", "upload"]


def test_api_errors_are_shown_as_the_api_states_them(page, console_stack, user):
    # Given the images screen
    support.open_console(page, console_stack, user)
    page.click("#tabs button[data-tab=images]")

    # When a file the pipeline does not take is uploaded
    page.set_input_files(
        "#image-file", {"name": "anim.gif", "mimeType": "image/gif", "buffer": b"GIF89a"}
    )
    page.click("#image-upload")

    # Then the API's status, code and words are on the page
    error = page.locator("#errors li .error-text").first
    error.wait_for()
    assert error.inner_text() == (
        "POST /uploads -> 400 unsupported_extension: an image must be one of .jpeg, .jpg, .png; "
        "got .gif ('anim.gif') (field filename)"
    )


def test_a_result_pushed_while_the_socket_was_down_is_still_shown(page, console_stack, user):
    # Given every WebSocket of the page goes through a relay the test can cut
    ws_url = console_stack.cloud.outputs["WebsocketUrl"]
    relay: dict[str, Any] = {"blocked": False, "live": []}

    def route(ws: Any) -> None:
        if relay["blocked"]:
            ws.close(code=1011, reason="network down (test)")
            return
        relay["live"].append((ws, ws.connect_to_server()))

    page.route_web_socket(lambda url: url.startswith(ws_url), route)
    support.open_console(page, console_stack, user)
    provision(page)
    support.pick_instance(page, console_stack, "CT_small.dcm")

    # When the socket dies and stays down while a job runs to completion
    relay["blocked"] = True
    for client_side, server_side in relay["live"]:
        server_side.close(code=1001, reason="gone")
        client_side.close(code=4000, reason="connection lost (test)")
    page.wait_for_selector("#socket-banner:not([hidden])")
    job_id = submit_job(page)
    jobs_table = console_stack.cloud.outputs["JobsTableName"]
    dynamodb = console_stack.cloud.client("dynamodb")

    def job_status() -> str:
        item = dynamodb.get_item(TableName=jobs_table, Key={"job_id": {"S": job_id}})
        return str(item.get("Item", {}).get("status", {}).get("S", ""))

    sqs = console_stack.cloud.client("sqs")
    results_queue = console_stack.cloud.outputs["ResultsQueueUrl"]

    def push_attempted() -> bool:
        counts = sqs.get_queue_attributes(
            QueueUrl=results_queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(value == "0" for value in counts.values())

    wait_for(lambda: job_status() == "DONE", timeout=60, what=f"job {job_id} DONE")
    wait_for(push_attempted, timeout=30, what="the result push (to no connection)")
    relay["blocked"] = False

    # Then the socket comes back, the banner goes, and the result is there with its overlay,
    # fetched with GET /jobs/{id} (nothing was connected when it was pushed)
    page.wait_for_selector("#socket-state[data-state=open]", timeout=30_000)
    page.wait_for_selector("#socket-banner[hidden]", state="attached")
    job = job_item(page, job_id)
    job.locator(".status[data-status=DONE]").wait_for(timeout=30_000)
    assert job.get_attribute("data-source") == "GET /jobs"
    overlay = job.locator("img.overlay")
    wait_for(lambda: overlay.evaluate("img => img.complete && img.naturalWidth"), what="overlay")


def test_video_frames_and_per_class_counts_appear_as_they_arrive(page, console_stack, users: Users):
    # Given a video whose first frame the YOLO service has written (its two files, as it writes
    # them; the detector itself is covered by the video pipeline's own tests). It was uploaded
    # by nobody, so only an admin may see it.
    cloud = console_stack.cloud
    bucket = cloud.outputs["VideoFramesBucketName"]
    video_id = "vconsole0000000000001"
    put_frame_outputs(
        cloud.client("s3"), bucket, video_id, 0, ["person", "person", "bus"], photo_jpeg()
    )
    support.open_console(page, console_stack, users.admin)
    page.click("#tabs button[data-tab=video]")

    # When it is picked among the processed videos
    page.click("#video-refresh")
    page.locator("#video-list button", has_text=video_id).click()

    # Then its frame and counts show, and the next frame and the summary are added as they come
    page.wait_for_selector("#frames li[data-frame='0']")
    put_frame_outputs(cloud.client("s3"), bucket, video_id, 5, ["person"], photo_jpeg())
    page.wait_for_selector("#frames li[data-frame='5']")
    assert page.inner_text("#class-counts tr[data-class=person] td:last-child") == "3"
    assert page.inner_text("#class-counts tr[data-class=bus] td:last-child") == "1"
    frame = page.locator("#frames li[data-frame='5'] img")
    wait_for(lambda: frame.evaluate("img => img.complete && img.naturalWidth"), what="frame")
    summary = json.loads((EVENTS / "video_summary.json").read_text())
    summary.update(video_id=video_id, frames=2, frames_sent=2, frames_failed=0)
    cloud.client("s3").put_object(
        Bucket=bucket, Key=f"frames/{video_id}/summary.json", Body=json.dumps(summary).encode()
    )
    page.wait_for_selector("#video-state:text('complete')")
    assert "2 frames processed" in page.inner_text("#video-summary")
