//! The database schema, shared by SQLite and PostgreSQL (same tables, same column types).

diesel::table! {
    collectivites (id) {
        id -> Text,
        siret -> Text,
        name -> Text,
        kind -> Text,
        cog -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        departement -> Nullable<Text>,
        active -> Bool,
        had_hubee_account -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    editeurs (id) {
        id -> Text,
        name -> Text,
        siret -> Text,
        contact_technique_email -> Text,
        apis -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    editeur_forms (id) {
        id -> Text,
        editeur_id -> Text,
        form_uid -> Text,
        name -> Text,
        public_url -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    habilitation_requests (id) {
        id -> Text,
        datapass_id -> Nullable<BigInt>,
        collectivite_id -> Text,
        form_uid -> Text,
        editeur_id -> Nullable<Text>,
        state -> Text,
        reopening -> Bool,
        scopes -> Text,
        purpose -> Nullable<Text>,
        deliberation_url -> Nullable<Text>,
        last_reason -> Nullable<Text>,
        created_at -> Timestamp,
        last_submitted_at -> Nullable<Timestamp>,
        last_validated_at -> Nullable<Timestamp>,
        last_event_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    request_contacts (id) {
        id -> Text,
        request_id -> Text,
        role -> Text,
        email -> Text,
        given_name -> Nullable<Text>,
        family_name -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        job_title -> Nullable<Text>,
    }
}

diesel::table! {
    habilitations (id) {
        id -> Text,
        request_id -> Text,
        collectivite_id -> Text,
        datapass_authorization_id -> Nullable<BigInt>,
        slug -> Nullable<Text>,
        state -> Text,
        validated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tokens (id) {
        id -> Text,
        habilitation_id -> Text,
        collectivite_id -> Text,
        scopes -> Text,
        issued_at -> Timestamp,
        expires_on -> Date,
        revoked_at -> Nullable<Timestamp>,
        revocation_reason -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        next_reminder_on -> Nullable<Date>,
    }
}

diesel::table! {
    hubee_subscriptions (id) {
        id -> Text,
        collectivite_id -> Text,
        process_code -> Text,
        hubee_id -> Nullable<Text>,
        status -> Text,
        access_mode -> Text,
        notification_frequency -> Text,
        notification_email -> Nullable<Text>,
        datapass_id -> Nullable<BigInt>,
        activation_date -> Nullable<Date>,
        end_date -> Nullable<Date>,
        local_admin_email -> Nullable<Text>,
        delegation_editeur_siret -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        actor -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        details -> Nullable<Text>,
    }
}

diesel::table! {
    staff_members (id) {
        id -> Text,
        email -> Text,
        role -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    editeur_members (id) {
        id -> Text,
        editeur_id -> Text,
        email -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    login_tokens (id) {
        id -> Text,
        token_hash -> Text,
        email -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        used_ip -> Nullable<Text>,
    }
}

diesel::table! {
    proconnect_states (state_hash) {
        state_hash -> Text,
        created_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_attempts (id) {
        id -> Text,
        email -> Text,
        ip -> Text,
        created_at -> Timestamp,
        sent -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        email -> Nullable<Text>,
        state -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        template -> Text,
        to_addresses -> Text,
        cc_addresses -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        related_type -> Nullable<Text>,
        related_id -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        received_at -> Timestamp,
        event -> Nullable<Text>,
        model_type -> Nullable<Text>,
        model_id -> Nullable<BigInt>,
        fired_at -> Nullable<BigInt>,
        request_id -> Nullable<Text>,
        outcome -> Text,
        http_status -> Integer,
        response_body -> Text,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
        payload -> Text,
        reapplied_at -> Nullable<Timestamp>,
        reapplied_by -> Nullable<Text>,
    }
}

diesel::table! {
    webhook_applied (dedup_key) {
        dedup_key -> Text,
        request_id -> Nullable<Text>,
        http_status -> Integer,
        response_body -> Text,
        applied_at -> Timestamp,
    }
}

diesel::table! {
    deliberation_files (request_id) {
        request_id -> Text,
        file_name -> Text,
        size_bytes -> BigInt,
        content -> Binary,
        uploaded_at -> Timestamp,
        uploaded_by -> Text,
    }
}

diesel::table! {
    reason_templates (id) {
        id -> Text,
        kind -> Text,
        title -> Text,
        body -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    token_reminders (id) {
        id -> Text,
        token_id -> Text,
        expires_on -> Date,
        stage -> Integer,
        days_left -> Integer,
        email_id -> Nullable<Text>,
        claimed_at -> Timestamp,
    }
}

diesel::table! {
    hubee_provisioning (subscription_id) {
        subscription_id -> Text,
        state -> Text,
        operation -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        updated_at -> Timestamp,
        organization -> Nullable<Text>,
    }
}

diesel::table! {
    request_provisioning_facts (request_id) {
        request_id -> Text,
        modalities -> Text,
        service_provider_id -> Nullable<Text>,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    form_activations (collectivite_id) {
        collectivite_id -> Text,
        state -> Text,
        editor -> Nullable<Text>,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        requested_at -> Timestamp,
        activated_at -> Nullable<Timestamp>,
        live -> Nullable<Bool>,
        live_checked_at -> Nullable<Timestamp>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    mail_jobs (id) {
        id -> Text,
        request_id -> Text,
        token_id -> Nullable<Text>,
        event -> Text,
        created_at -> Timestamp,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pending_approval_mails (request_id) {
        request_id -> Text,
        collectivite_id -> Text,
        token_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    hubee_sync_issues (id) {
        id -> Text,
        subscription_id -> Nullable<Text>,
        hubee_id -> Nullable<Text>,
        siret -> Nullable<Text>,
        kind -> Text,
        details -> Text,
        detected_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        resolved_by -> Nullable<Text>,
    }
}

diesel::table! {
    datapass_mirror (request_id) {
        request_id -> Text,
        datapass_state -> Text,
        last_event -> Nullable<Text>,
        last_event_at -> Nullable<Timestamp>,
        last_synced_at -> Nullable<Timestamp>,
        modification_expected_at -> Nullable<Timestamp>,
        modification_expected_by -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    datapass_differences (id) {
        id -> Text,
        request_id -> Nullable<Text>,
        datapass_id -> BigInt,
        source -> Text,
        kind -> Text,
        local_value -> Nullable<Text>,
        datapass_value -> Nullable<Text>,
        resolution -> Text,
        detected_at -> Timestamp,
    }
}

diesel::table! {
    datapass_sync_runs (id) {
        id -> Text,
        started_at -> Timestamp,
        finished_at -> Timestamp,
        read_count -> Integer,
        created_count -> Integer,
        updated_count -> Integer,
        unchanged_count -> Integer,
        difference_count -> Integer,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        editeur_id -> Text,
        name -> Text,
        key_hash -> Text,
        key_prefix -> Text,
        created_at -> Timestamp,
        created_by -> Text,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        revoked_by -> Nullable<Text>,
    }
}

diesel::joinable!(api_keys -> editeurs (editeur_id));
diesel::joinable!(editeur_forms -> editeurs (editeur_id));
diesel::joinable!(habilitation_requests -> collectivites (collectivite_id));
diesel::joinable!(habilitation_requests -> editeurs (editeur_id));
diesel::joinable!(request_contacts -> habilitation_requests (request_id));
diesel::joinable!(habilitations -> habilitation_requests (request_id));
diesel::joinable!(habilitations -> collectivites (collectivite_id));
diesel::joinable!(tokens -> habilitations (habilitation_id));
diesel::joinable!(tokens -> collectivites (collectivite_id));
diesel::joinable!(hubee_subscriptions -> collectivites (collectivite_id));
diesel::joinable!(editeur_members -> editeurs (editeur_id));
diesel::joinable!(token_reminders -> tokens (token_id));
diesel::joinable!(hubee_provisioning -> hubee_subscriptions (subscription_id));
diesel::joinable!(deliberation_files -> habilitation_requests (request_id));
diesel::joinable!(request_provisioning_facts -> habilitation_requests (request_id));
diesel::joinable!(form_activations -> collectivites (collectivite_id));
diesel::joinable!(datapass_mirror -> habilitation_requests (request_id));

diesel::table! {
    /// The search index: one document per searchable row, kept in step by SQL triggers
    /// (see `crate::search`).
    search_docs (id) {
        id -> BigInt,
        kind -> Text,
        source_id -> Text,
        target_id -> Text,
        body -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    collectivites,
    editeurs,
    editeur_forms,
    habilitation_requests,
    request_contacts,
    habilitations,
    tokens,
    hubee_subscriptions,
    events,
    staff_members,
    editeur_members,
    login_tokens,
    proconnect_states,
    login_attempts,
    sessions,
    outbox,
    app_secrets,
    webhook_deliveries,
    webhook_applied,
    deliberation_files,
    reason_templates,
    token_reminders,
    hubee_provisioning,
    hubee_sync_issues,
    request_provisioning_facts,
    form_activations,
    pending_approval_mails,
    mail_jobs,
    datapass_mirror,
    datapass_differences,
    datapass_sync_runs,
    api_keys,
    search_docs,
);

// Counters kept by triggers (migration 2026-11-30-000021_list_counters); never joined.
diesel::table! {
    row_counts (list, bucket) {
        list -> Text,
        bucket -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    request_link_counts (form_uid, editeur_id) {
        form_uid -> Text,
        editeur_id -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    token_expiry_counts (expires_on, revoked) {
        expires_on -> Date,
        revoked -> Bool,
        n -> BigInt,
    }
}

diesel::table! {
    token_expiry_month_counts (revoked, month) {
        month -> Date,
        revoked -> Bool,
        n -> BigInt,
    }
}
