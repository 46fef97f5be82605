//! Rows of the domain tables and the queries over them. Everything here runs inside
//! `AppState::db` (a blocking thread), never on an actix worker.

pub mod access;
pub mod accounts;
pub mod api_keys;
pub mod collectivites;
pub mod counters;
pub mod dashboard;
pub mod datapass;
pub mod editeur_clients;
pub mod editeurs;
pub mod events;
pub mod hubee;
pub mod reason_templates;
pub mod requests;
pub mod result_cache;
pub mod search;
pub mod tokens;

/// The choices of list filters: (id, name) of every éditeur by name, and département codes,
/// with their HTML-escaped forms (escaped once, not on every view).
#[derive(Debug, Default)]
pub struct Choices {
    /// (id, name) of every éditeur, by name.
    pub editeurs: Vec<(String, String)>,
    /// Every département code in use, sorted.
    pub departements: Vec<String>,
    escaped_editeurs: Vec<(String, String)>,
    escaped_departements: Vec<String>,
}

impl Choices {
    /// The choices, escaped for HTML once.
    pub fn new(editeurs: Vec<(String, String)>, departements: Vec<String>) -> Choices {
        Choices {
            escaped_editeurs: editeurs
                .iter()
                .map(|(id, name)| (tera::escape_html(id), tera::escape_html(name)))
                .collect(),
            escaped_departements: departements.iter().map(|d| tera::escape_html(d)).collect(),
            editeurs,
            departements,
        }
    }

    /// The éditeur filter's `<option>` elements, `selected` marked.
    pub fn editeur_options(&self, selected: &str) -> String {
        options_html(
            self.editeurs
                .iter()
                .zip(&self.escaped_editeurs)
                .map(|((id, _), (value, label))| (id == selected, value.as_str(), label.as_str())),
        )
    }

    /// The département filter's `<option>` elements, `selected` marked.
    pub fn departement_options(&self, selected: &str) -> String {
        options_html(
            self.departements
                .iter()
                .zip(&self.escaped_departements)
                .map(|(d, escaped)| (d == selected, escaped.as_str(), escaped.as_str())),
        )
    }
}

/// The `<option>` elements of a `<select>` from (selected, escaped value, escaped label).
/// Built here rather than by a template loop: the two filters' 200 choices were half of a list
/// page's rendering.
fn options_html<'a>(items: impl Iterator<Item = (bool, &'a str, &'a str)>) -> String {
    let mut html = String::with_capacity(8 * 1024);
    for (selected, value, label) in items {
        html.push_str("<option value=\"");
        html.push_str(value);
        html.push('"');
        if selected {
            html.push_str(" selected");
        }
        html.push('>');
        html.push_str(label);
        html.push_str("</option>");
    }
    html
}

/// The filter choices shared by every view (see [`filter_choices`]).
pub type FilterChoices = std::sync::Arc<Choices>;

/// The filter choices last read by one application (one per `AppState`), with the version
/// they were read at (see [`filter_choices`]).
pub type ChoicesCache = std::sync::Arc<std::sync::Mutex<Option<(i64, FilterChoices)>>>;

/// The choices of the éditeur and département filters: (id, name) of every éditeur by name,
/// and every département code in use, sorted. Triggers bump a version (`row_counts`,
/// `versions`/`filter_choices`, migration `…000030`) with every change of the éditeurs or of
/// the collectivités' départements: a view reads that one row and reads the choices again only
/// when it moved. A change committed between the two reads tags newer choices with the older
/// version, which the next view reads again: never stale.
pub fn filter_choices(
    conn: &mut crate::db::DbConnection,
    cache: &ChoicesCache,
) -> diesel::QueryResult<FilterChoices> {
    use crate::db::schema::editeurs;
    use diesel::prelude::*;
    let version = counters::bucket(conn, counters::VERSIONS, counters::FILTER_CHOICES)?;
    if let Ok(cached) = cache.lock()
        && let Some((at, choices)) = cached.as_ref()
        && *at == version
    {
        return Ok(choices.clone());
    }
    let editeurs: Vec<(String, String)> = editeurs::table
        .order(editeurs::name.asc())
        .select((editeurs::id, editeurs::name))
        .load(conn)?;
    let departements = crate::models::collectivites::departements(conn)?;
    let choices = std::sync::Arc::new(Choices::new(editeurs, departements));
    if let Ok(mut cached) = cache.lock() {
        *cached = Some((version, choices.clone()));
    }
    Ok(choices)
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_are_escaped_and_the_selected_one_is_marked() {
        let choices = super::Choices::new(
            vec![
                ("a".into(), "Éditeur <A>".into()),
                ("b\"&".into(), "B".into()),
            ],
            vec!["2A".into(), "35".into()],
        );
        assert_eq!(
            choices.editeur_options("b\"&"),
            "<option value=\"a\">Éditeur &lt;A&gt;</option>\
             <option value=\"b&quot;&amp;\" selected>B</option>"
        );
        assert_eq!(
            choices.departement_options(""),
            "<option value=\"2A\">2A</option><option value=\"35\">35</option>"
        );
        assert_eq!(
            choices.departement_options("35"),
            "<option value=\"2A\">2A</option><option value=\"35\" selected>35</option>"
        );
    }
}
