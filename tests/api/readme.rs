//! The README's demo accounts exist in the demo data and can sign in.

use crate::helpers::TestApp;

#[tokio::test]
async fn every_demo_account_in_the_readme_can_sign_in() {
    let readme = include_str!("../../README.md");
    let app = TestApp::spawn_with_demo().await;
    let accounts = [
        "admin@demo.api.gouv.fr",
        "instructeur@demo.api.gouv.fr",
        "equipe@mushroom-software.fr",
        "equipe@arpege-citoyen.fr",
        "api@mushroom-software.fr",
        "camille.martin@chatillonenbois.fr",
    ];
    for email in accounts {
        assert!(readme.contains(email), "{email} is documented");
        let visitor = app.signed_in(email).await;
        let (status, home) = visitor.get_text("/").await;
        assert_eq!(status, 200, "{email}");
        assert!(home.contains(email), "{email} is shown as signed in");
    }
}
