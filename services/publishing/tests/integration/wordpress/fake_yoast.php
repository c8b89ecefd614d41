<?php
/*
 * A stand-in for Yoast SEO's REST surface, for tests (Yoast cannot be installed offline): the
 * `yoast/v1` namespace, and Yoast's post meta exposed to REST the way Yoast registers it for
 * posts (`register_meta` with `show_in_rest`, single strings, editable by those who may edit
 * posts). Written into the test WordPress's mu-plugins only while a test needs it.
 */
add_action('rest_api_init', function () {
    register_rest_route('yoast/v1', '/get_head', [
        'methods' => 'GET',
        'callback' => fn () => ['status' => 200, 'html' => ''],
        'permission_callback' => '__return_true',
    ]);
});
add_action('init', function () {
    foreach (['title', 'metadesc', 'focuskw'] as $key) {
        register_post_meta('post', '_yoast_wpseo_' . $key, [
            'show_in_rest' => true,
            'single' => true,
            'type' => 'string',
            'auth_callback' => fn () => current_user_can('edit_posts'),
        ]);
    }
});
