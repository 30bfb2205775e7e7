import JWTKit

/// RSA test keys (2048 bits), made once with `openssl genrsa 2048` for these tests only: generating
/// RSA keys at run time costs enough CPU to push unrelated tests running in parallel past their
/// deadlines.
enum TestRSAKeys {
    static let pems = [
        """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEogIBAAKCAQEA7mUiWhXhjLR1Yher+WS3SxIyqjsqN5a/i37nkPD55rPXv6aW
        Bf3cHrJYJDUHATFfBImr7SeTqA+cT+3uonzY84CjQWgXQEuzLo7As1AWt5fVpPVo
        Hy0J3XmaJ31UjN+73BoIUb0KgOeGSh0I9eA/jLGZzevewaws6EM8omQqDt32/CWQ
        W7hSVs0EIqeL7Tw/9ka2ZgucQ/CyIiBrORhK2GZ0nKMvUyDBWWrlZCCwZV5wA0s0
        7l7wXHME6646rw0Cntci4ykLH+Eft+hmGWEEge5sceODbJbi81eWfSgZNulNYCqg
        Z81MSbOLIU9gYix19vZprlnsK+xpEKp90uKErQIDAQABAoIBADJASj3wB9PHhEjR
        kZQn6UUfSGO+xfbixWyLqxdP3HWHak6BOHV53gjwcgjrzpavSAamWIHMimDuLXZh
        wqAorfiiIIecf+4zJsmFGNSTaL55eHTlr/WGYmJ3jAmP7x8k2C4cpK1KKmkipJmB
        xk5B31NyamfQNOvhNbQd3C2k7IKmWg9ER9iOed1xFHGJ0ETorRoBg2JHuvqVAsnU
        RllB+O3L+oxV+xJiZEZsZ3AlfwVwJv6mJjhyv4yyEdKO44xrimbjfWj+4QYJOGpd
        BZMu1WHGZCleyFfjoqScvLctmOQ1E0k5VhZ9BD5dvvvw0+PIMh4PmIvhrGIY3o83
        HggUzrcCgYEA+QF929/KVyDQn6ScpuRNMPkGcYP29kRMOmaQW0mUSZA++kcPc4x4
        P91NeFWIqCG1avv68/aFeONgXSv7Jv0QrQHRVTCBP6udVZy/zUNOZyxkx5XpKeFc
        RsAOSGcpZmT2Wl5Ixp4uyaWV+hvz1w+FuPt0AnVdZuGkdWdTvLOu4aMCgYEA9RdY
        LRHqZZ5t189mNgMpj8ATxw9Ld+V1PkLNexUsqeuoPGNDCnZTb2R5ml/O7ZI9IcYz
        hgOItSChWHhB82+WKAl89DTCDZzARil5oqUMy2j7LUgSXyC68EDmV5D0CFFS/zID
        0A/Zxzo4BcrLA6oGS+Zl+WqEMTyU797J/IUnhW8CgYAZ80vYlFQUDHlxichBpF1f
        EzTWs7gTJj8DfxjgSqTHnd7SWoGDu0n07e1a8x8Q1qJ/ic83iaOTW675RtIf2BPa
        0+urAykVJ594AqQCklcjbX77ReZM1Q222eEjLo0j/LWn6VeQS3/4x+b/b9ZTvWxk
        QOBwOScIx89J5QDXE6rQHQKBgCQulRLaQTtNPzQL5y/0GY+iMIlDhcWmdz+Axyrz
        fkt7gbOgh8Ykn76jG5yhpj/GRgYVZ4fSP71VmtwfrMTOZWF1vR+kJj2yNWRmPRG4
        wgHJdsNBj4zBnTdYrWih+pS7xL/t10hA/sp9msWoIX5h/Fn6InXGtss6AVbEEheY
        ZLQ7AoGAErdN6ghdlclb+Oy/LdKT3fDYeGXF3loMDgIaYr4rGDgxAe2F/VWGJ3CW
        jGDRabDVTsOrrjTmHuOpcaqtGTDsyZBYzn31mU+KMaE0RLU/0/Bfcd5E22MrUN4G
        2KnhOpn3Asda6TVPEcY8EV4E4MCvBCVL+Q4iY0LCaDqWG/V+SEQ=
        -----END RSA PRIVATE KEY-----
        """,
        """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEoQIBAAKCAQEAmEmK10TDbFTUSnl6txOgO0zJH0R+QrQCILBUAP66nNc7Ali+
        U2gLSiKfo1Rh19J+MxoQ5SKKBR7M5vsClfERU6dM7HtDFhbg6nySCHRw4RR5vb17
        HDQ0sAxonqh2HMa+KanCdK73t+rm+jUASvMR4yWiqWr4A0SHntaieaCUMNorh7t5
        WL96zhg3ntlMix9tbfiyjUoDI4ofR1U5e5Bn7oc7rwiplULdMRFA1fRY+m/2iSud
        /PWnXrEtuxVBnlzEfeRzSg36V7BxrPyj/bk6UbTrS9YORncTltE/1g7VvoGoeza1
        /GI/FKnED81/xQKyGAPHbkFp7jCYUV8Bh1Gs+wIDAQABAoH/RaFaseqkEdbtix/l
        aAYX+hK2GQ8dTbNRlpM+/g0O2qfEiU4lTDOJzYRYG2OHPk+9E2qhyD4Cp7MBx3Kt
        Gk3A/LTFn8byQ/7uoi2xb2+YYxvsImmpPwY0A45KmJGWsyXbYWdK4JX3asJOAqAe
        WbrlL320/TsUK3fLzk3pdX1v89gl+G2wCHr1/Hc5aFVI4ICzcSF1mBTfS9Fi4klB
        uXbhB9kjZN+TmJnV3zcD0DsLQxzUlRLhR3SzEDQsoATZtqIY6fc7TE7kLwb44L41
        HNsnr4qnAZBvon4flrMmBH1J47yj4cUD1jBGy6CZ9p4Ju3d8DW1VnLr0s/t8uzOk
        e6uBAoGBANRO9lfha4rTYjXtbEjOq62dmxPcfjNGctzrAKqICQCcOv2M9njdTP4z
        BL3qNE7PWu4ObMO+AseEcvjMpBIEKYj6J8H9LskIzEd4GJrNA+8RQ7oYjYQ1R05I
        OQVyxTHmnAVrzfY6nemHaZMQqgcI5h/HKD2m1ZRUlqsgYPU4AIb/AoGBALegfKuB
        x907gSwZh9E0Zis3LhDncMcYW8CYcUIJNCB7wflYJXpIJdkfqld2m9zGIqTFxnl5
        YTHTM+clu0+6LakqvF/NavrShcfhtxJ79wKzLXXCAQLXNoP6YIPejeuITTn+oM1H
        pxRSELRslpOYlyXI4Mr1jZWwLrCyBJj4avYFAoGASfH+pvkiZcXeDP5Wmr0w2lVs
        b+x6IA3Hb96B6uNaj1XazfjM16fsaxUF78ek1FYwS33GsB58BVXCXZmZA5Vjigvm
        0RAHvYlM7Q+NMk15s0iGGEj48TVFUqShB57Dw++YI+M6ZypfWbkKMmi5b53P2P2a
        rG5xMSqNF6k9W+tXc60CgYEAkUK/3Nz5wqVD9iLsMi8Fc8JfCrhLmvRGAQGW9upY
        9ilwtVNpsmZIqo5GLpKBkhCbb0WVUJsYrFWrhXtvxg49+Mj547+YlXrcodaJAHJY
        YSZlG/aw3hJp6dWzbB4unthgXzRy+HFqVsTkuhX8uB3J0/Yo/eVqb7PD+7uXr3s1
        AhECgYBh+bS+6zOD6R4o1fJmSvU7kOtJTfRSAUzq0U3GcMTUsPi+AiSFaYLIYXoU
        gjvYpSG0tqrGONLpls5i90g3F+2dxYphhdg9txaqGm4V6JQn0lh0nS+jkiZmcZpa
        H5VTFdPVPKjEABe/yFkQUWWju+eUdnSewiuz22mIsDXeOkKScQ==
        -----END RSA PRIVATE KEY-----
        """,
        """
        -----BEGIN RSA PRIVATE KEY-----
        MIIEpAIBAAKCAQEAsAfcStoovHVYtbdGPf5vtcTf+fubUSmbw0fRyYW4bG+pT9NB
        6fX/oeE+COICyB5FewqP879JRJOksAFVR/xG1pRrPzgn8IhBGtAZRtkzblS7ls4E
        GzjBzZxYqFmBklk/q0Qwqa1PkDlv6froF9+51Ip96W1fIlSz4S8bBUeaNJe+Uk78
        cJK9lR96mt/cybXRO4DtfSWw/PhFZHxXuExuln4tUszq6mgUK4y/GkUW6NOoXufM
        ysvcqTJ7KkQnWRh8rtFc6orQ9Nl6484r/yOWQF9B7FZ22aIDmmhqY/hstyaP/KaO
        7h050vh9wdq9G1fT/AplxTCmfDI4RkzcT+NAbQIDAQABAoIBAAknX31E+vlR4NsS
        PMTchlKdekg1nU4LK95rzaz9FyoMZHGSOss/z5tLaz5rAloFuPc9BV9XgyfdxaKh
        bx3fMI/YB/uxn+ISM9CBIc9dXB9QqLCe5ffEa8+VYcbfYK2LlpQBZ8ZrDMgjNH6m
        XYtgRvmWehW5akkOvovnNzB/GLXDWCnEgVL3BjZDM2Ha1EE8dtC987ZWzx9b9Dhq
        EZWulQN8gwbi+FZnslKMh2nkWi5RV4UVgyfQbhbAzS8fPIbPYl6hYjfzXnJvqkHg
        EtH6ku9+g3o+5oluI5Um12eN91j4IvH0i2mUd/TF7B3mnxXTWK2qYSxf8rNrXnRU
        anwfmsECgYEA5yjRnRD1Ud/Lzs7pDwiHqUVzTA/EZMsT2eQQEcZqg6uMCBf+VFk0
        7bOkPsQaVcMCYLKPXRfAehZiRnWaTh+tfP/uoUYSYxmjSgrR57qpAENxdXQvfBgx
        yqRUoOxPsBBi+iTJrncdEuMmDMikypS7jHnWfa+ektzPGdm5ywPWOScCgYEAwvJ0
        IFCQtm21gCY9QW4yW9oNS8WHWPPDs0lD3DLFeJV/ek7J1sOtFhMJZ9ETnOQM73QU
        gyFZEE5jvbm9Z8snAQi+nOTzvfIwbgcVJ0SsshOn3dbsB1m5wu4VP18318YNNO9W
        dtco5osGDiHeb8m7o/opLUkqyNpsl9Yfxr14rksCgYEArEYFgfMDgVMyhxw5INUQ
        lZyGwub1TND0KG0JdNXUx/BvWhDXoHEjOwuomoZ3wfalrP8mTRDIh7Rq5Wv75cFC
        AGiUpWidh3Gx+hp6OSMplGKvCgPe57L4WLeDwrKa6PItcZM9I2LuLgdPcjOObNPP
        um+K5PyfR4B8cB2Nk7l2S/0CgYBKr8C1sKgAfD+Q/RVyv9kjP4LgiKi1943+Xg9V
        iU4GSKAyJ4VEdmsVje2IjJ1K+kPKaVqCcoBAswebZFGgNkCXMNZ2HXEUUHklbik4
        hiLzhnxFjVWX61QzzirtwHkQfZwJr7gch4nv6UtEls01XsA4rlqgMuvlT2lTMoGy
        DlzxyQKBgQDbuWSH5BmScNyY4US0CHd7lwgz9Hp71+Z1nbhYcSreO5Bt5Wv1ZHcI
        Ky/2e8R3uNxlRDRTHCx92x/b5Vs5alvSEoqh3Fv48h2bkg08sGYSraic1Jr5hsV7
        IM6GZULqrLYjl0bbFoXOEZk5v/wrbJH6RBMtaFjX/I7ibjGEb7JmBg==
        -----END RSA PRIVATE KEY-----
        """,
    ]

    static func key(_ index: Int) throws -> JWTKit.Insecure.RSA.PrivateKey {
        try JWTKit.Insecure.RSA.PrivateKey(pem: pems[index])
    }
}
