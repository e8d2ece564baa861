"""The built-in periodic tasks say what they do, on the Schedules page and in the API."""
from dashboard.schedules import builtin
from tests.support.html import parse


def test_every_builtin_task_says_what_it_does(app, signed_in):
    """Each beat_schedule entry has its own description, shown in its row of the page."""
    client, _, token = signed_in("viewer")
    names = set(app.extensions["celery"].conf.beat_schedule)
    assert names <= set(builtin.WHAT_IT_DOES), f"no description: {names - set(builtin.WHAT_IT_DOES)}"
    page = parse(client.get("/schedules"))
    table = page.find("table", id="builtin")
    for name in names:
        row = table.find("tr", data_schedule=name)
        assert str(builtin.WHAT_IT_DOES[name]) in row.text(), name
    listed = client.get("/api/schedules", headers={"Authorization": f"Bearer {token}"}).get_json()
    shown = {s["name"]: s["description"] for s in listed if s.get("builtin")}
    assert shown["retention"].startswith("Deletes finished requests older than RETENTION_DAYS")
    assert shown["reap-lost-attempts"].startswith("Ends as failures the running requests")
