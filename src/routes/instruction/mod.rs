//! Instruction: the DataPass webhook, the staff queue, decisions on a request, staff-created
//! requests, reusable reason templates and the webhook delivery log, one module each; the
//! work itself is in the `instruction` service and in `models`.

pub mod decision;
pub mod deliveries;
pub mod new_request;
pub mod queue;
pub mod reason_templates;
pub mod webhook;

route_table! {
    post "/webhooks/datapass" => webhook::datapass_webhook,
    get "/webhooks/livraisons" => deliveries::deliveries,
    get "/webhooks/livraisons/{id}" => deliveries::delivery,
    post "/webhooks/livraisons/{id}/rejouer" => deliveries::reapply_delivery,
    get "/instruction" => queue::queue_page,
    get "/demandes/nouvelle" => new_request::new_request_form,
    post "/demandes/nouvelle" => new_request::create_request,
    post "/demandes/{id}/decision" => decision::decide,
    get "/demandes/{id}/deliberation" => decision::deliberation_file,
    get "/modeles-de-motifs" => reason_templates::templates_page,
    post "/modeles-de-motifs" => reason_templates::create_template,
    post "/modeles-de-motifs/{id}" => reason_templates::update_template,
    get "/modeles-de-motifs/{id}/supprimer" => reason_templates::confirm_delete_template,
    post "/modeles-de-motifs/{id}/supprimer" => reason_templates::delete_template,
}

/// Largest délibération PDF accepted.
pub const MAX_PDF_BYTES: usize = 10 * 1024 * 1024;
/// Most parts a new-request form may have (it has about thirty).
pub const MAX_FORM_PARTS: usize = 64;
/// Most bytes of all text parts of a new-request form together.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
