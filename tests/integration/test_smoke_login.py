from tests.conftest import page_text


def test_staff_can_sign_in_and_see_patients(make, auth, client):
    make.user("staff", username="frontdesk")
    make.patient(given_name="Clover", family_name="Testwright")
    response = auth.login("frontdesk", follow_redirects=True)
    assert response.status_code == 200, page_text(response)
    assert "Recently registered" in page_text(response)
    listing = client.get("/patients/")
    assert "Testwright" in page_text(listing)
