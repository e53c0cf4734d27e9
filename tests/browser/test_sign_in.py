from playwright.sync_api import expect


def test_sign_in_and_out(page, live_server, marketer, screenshot):
    page.goto(live_server.url + "/settings/email/providers/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/settings/email/providers/")
    expect(page.get_by_role("heading", name="Sign in to Postdesk")).to_be_visible()
    screenshot(page, "login")

    page.get_by_label("Username").fill("marketer")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()

    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/settings/email/providers/")
    expect(page.get_by_role("navigation", name="breadcrumb")).to_contain_text("Providers")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/login/")
