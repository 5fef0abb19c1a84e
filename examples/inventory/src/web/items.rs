//! The item pages: list, show, add, edit, delete, each as the user's
//! permissions allow.

use super::*;

/// The items the user may see: all with the model permission to view,
/// otherwise those they hold `inventory.view_item` on (their own).
pub(super) async fn visible_items(site: &Site, user: &CurrentUser) -> Result<Vec<Item>, Error> {
    let visible = user.objects_for("inventory.view_item").await?;
    let mut items = site.items.list().await.map_err(database_error)?;
    items.retain(|item| visible.contains(&item.id.to_string()));
    Ok(items)
}

/// Viewers see every item; whoever may add items sees their own. Each row
/// says what the user may do with it.
#[permission_required(any("inventory.view_item", "inventory.add_item"))]
#[get("/items/")]
pub(super) async fn list_items(
    site: web::Data<Site>,
    user: CurrentUser,
) -> Result<HttpResponse, Error> {
    let items = visible_items(&site, &user).await?;
    let change = user.objects_for("inventory.change_item").await?;
    let delete = user.objects_for("inventory.delete_item").await?;
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            let id = item.id.to_string();
            context! {
                item => Value::from(Serde(item)),
                can_change => change.contains(&id),
                can_delete => delete.contains(&id),
            }
        })
        .collect();
    let can_add = user.has_perm("inventory.add_item").await?;
    Ok(site.page(
        StatusCode::OK,
        "items.html",
        context! { rows, can_add, username => username(&user) },
    ))
}

/// Adds an item as `user`'s and grants them view, change and delete on it.
pub(super) async fn add_owned(
    site: &Site,
    user: &CurrentUser,
    name: &str,
    quantity: u32,
) -> Result<i64, Error> {
    let owner = user.id().and_then(|id| id.parse::<i64>().ok());
    let id = site
        .items
        .add(name, quantity, owner)
        .await
        .map_err(database_error)?;
    let username = username(user).unwrap_or_default();
    for perm in OWNER_PERMISSIONS {
        site.backend
            .grant_object(username, perm, &id.to_string())
            .await
            .map_err(admin_error)?;
    }
    Ok(id)
}

#[permission_required("inventory.add_item")]
#[get("/items/new/")]
pub(super) async fn new_item(site: web::Data<Site>, user: CurrentUser) -> HttpResponse {
    site.page(
        StatusCode::OK,
        "item_form.html",
        context! { username => username(&user) },
    )
}

#[permission_required("inventory.add_item")]
#[post("/items/")]
pub(super) async fn create_item(
    site: web::Data<Site>,
    user: CurrentUser,
    form: web::Form<ItemInput>,
) -> Result<HttpResponse, Error> {
    let name = match form.validate() {
        Ok(name) => name,
        Err(error) => {
            return Ok(site.page(
                StatusCode::BAD_REQUEST,
                "item_form.html",
                context! { error, username => username(&user) },
            ));
        }
    };
    let id = add_owned(&site, &user, name, form.quantity).await?;
    Ok(see_other(&format!("/items/{id}/")))
}

pub(super) fn not_found(site: &Site, user: &CurrentUser) -> HttpResponse {
    site.error_page(
        StatusCode::NOT_FOUND,
        "There is no such item.",
        username(user),
    )
}

#[permission_required("inventory.view_item", object = "id")]
#[get("/items/{id}/")]
pub(super) async fn show_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    let Some(item) = site.items.get(*id).await.map_err(database_error)? else {
        return Ok(not_found(&site, &user));
    };
    let object = item.id.to_string();
    let can_change = user.has_perm_on("inventory.change_item", &object).await?;
    let can_delete = user.has_perm_on("inventory.delete_item", &object).await?;
    Ok(site.page(
        StatusCode::OK,
        "item.html",
        context! { item => Value::from(Serde(&item)), can_change, can_delete, username => username(&user) },
    ))
}

#[permission_required("inventory.change_item", object = "id")]
#[get("/items/{id}/edit/")]
pub(super) async fn edit_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    item_page(&site, &user, *id, "item_form.html").await
}

/// The item `id` shown with `template`, or the 404 page.
async fn item_page(
    site: &Site,
    user: &CurrentUser,
    id: i64,
    template: &str,
) -> Result<HttpResponse, Error> {
    match site.items.get(id).await.map_err(database_error)? {
        Some(item) => Ok(site.page(
            StatusCode::OK,
            template,
            context! { item => Value::from(Serde(&item)), username => username(user) },
        )),
        None => Ok(not_found(site, user)),
    }
}

#[permission_required("inventory.change_item", object = "id")]
#[post("/items/{id}/edit/")]
pub(super) async fn update_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
    form: web::Form<ItemInput>,
) -> Result<HttpResponse, Error> {
    let Ok(name) = form.validate() else {
        return Ok(HttpResponse::BadRequest().body("The name must have 1 to 200 characters."));
    };
    if site
        .items
        .update(*id, name, form.quantity)
        .await
        .map_err(database_error)?
    {
        Ok(see_other(&format!("/items/{id}/")))
    } else {
        Ok(not_found(&site, &user))
    }
}

/// Where the re-authentication form sends a user back to after a delete
/// it interrupted (`next` cannot repeat a POST): the same question again.
#[permission_required("inventory.delete_item", object = "id")]
#[recent_login_required(max_age = "10m")]
#[get("/items/{id}/delete/")]
pub(super) async fn confirm_delete(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    item_page(&site, &user, *id, "item_delete.html").await
}

#[permission_required("inventory.delete_item", object = "id")]
#[recent_login_required(max_age = "10m")]
#[post("/items/{id}/delete/")]
pub(super) async fn delete_item(
    site: web::Data<Site>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, Error> {
    if site.items.delete(*id).await.map_err(database_error)? {
        Ok(see_other("/items/"))
    } else {
        Ok(not_found(&site, &user))
    }
}
